"""Logins, backoff, sessions, tokens, password changes and role scoping, through the auth service."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.auth.conftest import Clock
from tests.auth.support import TEST_PASSWORD, fast_passwords
from watchkeeper.auth.errors import (
    InvalidCredentialsError,
    TooManyAttemptsError,
    UnauthenticatedError,
    UnknownRoleError,
    WeakPasswordError,
)
from watchkeeper.auth.lockout import Backoff
from watchkeeper.auth.models import RoleGrant, UserChange
from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.service import AuthService
from watchkeeper.config.auth import AuthConfig, LockoutConfig
from watchkeeper.domain import CameraId, NotFoundError, SiteId
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store

ADMIN = RoleGrant("admin")


def test_login_starts_a_session_whose_cookie_secret_is_not_stored(auth: AuthService, name: str) -> None:
    auth.create_user(name, TEST_PASSWORD, [ADMIN])
    result = auth.login(name, TEST_PASSWORD, "10.1.0.1")
    assert result.secret.startswith("wks_")
    assert result.session.token_hash != result.secret
    assert result.secret not in repr(result.session)
    principal = auth.session_principal(result.secret)
    assert principal.username == name
    assert principal.session_id == result.session.id
    assert principal.csrf_token == result.session.csrf_token


def test_wrong_password_and_unknown_user_fail_alike(auth: AuthService, name: str) -> None:
    auth.create_user(name, TEST_PASSWORD, [ADMIN])
    with pytest.raises(InvalidCredentialsError) as wrong:
        auth.login(name, "not the password", "10.1.0.2")
    with pytest.raises(InvalidCredentialsError) as unknown:
        auth.login(f"{name}-nobody", "not the password", "10.1.0.3")
    assert str(wrong.value) == str(unknown.value)


def test_disabled_users_cannot_log_in(auth: AuthService, name: str) -> None:
    auth.create_user(name, TEST_PASSWORD, [ADMIN])
    auth.update_user(name, UserChange(disabled=True))
    with pytest.raises(InvalidCredentialsError):
        auth.login(name, TEST_PASSWORD, "10.1.0.4")


@pytest.mark.parametrize(
    ("password", "grants", "error"),
    [("short", [ADMIN], WeakPasswordError), (TEST_PASSWORD, [RoleGrant("superuser")], UnknownRoleError)],
)
def test_bad_new_users_are_refused(
    auth: AuthService, name: str, password: str, grants: list[RoleGrant], error: type[Exception]
) -> None:
    with pytest.raises(error):
        auth.create_user(name, password, grants)
    assert auth.repos.users.get(name) is None


def test_backoff_doubles_up_to_the_cap_and_never_locks_for_good() -> None:
    backoff = Backoff(LockoutConfig(free_attempts=3, base_delay_s=2, max_delay_s=30))
    delays = [backoff.delay(n) for n in range(1, 10)]
    assert delays[:3] == [None, None, None]
    assert [d.total_seconds() for d in delays[3:] if d is not None] == [2, 4, 8, 16, 30, 30]
    far = backoff.delay(10_000)
    assert far is not None
    assert far.total_seconds() == 30


def test_failed_logins_back_off_then_the_block_expires(auth: AuthService, clock: Clock, name: str) -> None:
    auth.create_user(name, TEST_PASSWORD, [ADMIN])
    for _ in range(5):
        with pytest.raises(InvalidCredentialsError):
            auth.login(name, "wrong password!", "10.2.0.1")
    with pytest.raises(InvalidCredentialsError):
        auth.login(name, "wrong password!", "10.2.0.1")  # 6th failure: blocked for 1 s
    with pytest.raises(TooManyAttemptsError) as blocked:
        auth.login(name, TEST_PASSWORD, "10.2.0.1")  # even the right password waits
    assert blocked.value.retry_after_s == 1
    # The account is blocked from other addresses too (guessing spread over many addresses).
    with pytest.raises(TooManyAttemptsError):
        auth.login(name, TEST_PASSWORD, "10.2.0.99")
    clock.advance(2)
    assert auth.login(name, TEST_PASSWORD, "10.2.0.1").principal.username == name


def test_an_attacker_cannot_lock_the_admin_out_of_a_known_address(
    auth: AuthService, clock: Clock, name: str
) -> None:
    auth.create_user(name, TEST_PASSWORD, [ADMIN])
    auth.login(name, TEST_PASSWORD, "10.3.0.1")  # the admin's usual workstation
    for _ in range(12):
        clock.advance(0.1)
        with pytest.raises((InvalidCredentialsError, TooManyAttemptsError)):
            auth.login(name, "guess guess guess", "203.0.113.7")
    with pytest.raises(TooManyAttemptsError):
        auth.login(name, TEST_PASSWORD, "203.0.113.7")  # the attacker's address is backing off
    assert auth.login(name, TEST_PASSWORD, "10.3.0.1").principal.username == name


def test_reset_password_clears_the_backoff_and_ends_sessions(auth: AuthService, name: str) -> None:
    auth.create_user(name, TEST_PASSWORD, [ADMIN])
    session = auth.login(name, TEST_PASSWORD, "10.4.0.1")
    for _ in range(7):
        with pytest.raises((InvalidCredentialsError, TooManyAttemptsError)):
            auth.login(name, "wrong password!", f"10.4.1.{_}")
    auth.reset_password(name, "a brand new password")
    with pytest.raises(UnauthenticatedError):
        auth.session_principal(session.secret)
    assert auth.login(name, "a brand new password", "10.4.2.1").principal.username == name


def test_sessions_slide_then_expire_when_idle_or_too_old(auth: AuthService, clock: Clock, name: str) -> None:
    auth.create_user(name, TEST_PASSWORD, [ADMIN])
    secret = auth.login(name, TEST_PASSWORD, "10.5.0.1").secret
    for _ in range(30):  # active for 25 h in steps of 50 min: slides until the 12 h absolute limit
        clock.advance(25 * 60)
        try:
            auth.session_principal(secret)
        except UnauthenticatedError:
            break
    else:
        pytest.fail("the session outlived its absolute lifetime")
    idle = auth.login(name, TEST_PASSWORD, "10.5.0.1").secret
    clock.advance(31 * 60)
    with pytest.raises(UnauthenticatedError):
        auth.session_principal(idle)


def test_logout_revokes_and_forged_secrets_fail(auth: AuthService, name: str) -> None:
    auth.create_user(name, TEST_PASSWORD, [ADMIN])
    result = auth.login(name, TEST_PASSWORD, "10.6.0.1")
    auth.logout(result.principal)
    for secret in (result.secret, "wks_forged", "", "wkt_" + result.secret[4:], "x" * 5000):
        with pytest.raises(UnauthenticatedError):
            auth.session_principal(secret)


def test_password_change_checks_the_current_one_and_ends_other_sessions(auth: AuthService, name: str) -> None:
    auth.create_user(name, TEST_PASSWORD, [ADMIN])
    here = auth.login(name, TEST_PASSWORD, "10.7.0.1")
    elsewhere = auth.login(name, TEST_PASSWORD, "10.7.0.2")
    with pytest.raises(InvalidCredentialsError):
        auth.change_password(here.principal, "not it", "another good password")
    with pytest.raises(WeakPasswordError):
        auth.change_password(here.principal, TEST_PASSWORD, "short")
    auth.change_password(here.principal, TEST_PASSWORD, "another good password")
    assert auth.session_principal(here.secret).username == name
    with pytest.raises(UnauthenticatedError):
        auth.session_principal(elsewhere.secret)


def test_tokens_expire_are_revocable_and_die_with_their_user(
    auth: AuthService, clock: Clock, name: str
) -> None:
    user = auth.create_user(name, TEST_PASSWORD, [ADMIN])
    owner = auth.principal_of(user)
    short = auth.issue_token(owner, "short", expires_in_days=1)
    capped = auth.issue_token(owner, "too long", expires_in_days=100_000)
    assert (capped.record.expires_at - capped.record.created_at).days == auth.config.token_max_days
    assert auth.token_principal(short.secret).token_id == short.record.id
    assert [t.name for t in auth.list_tokens(owner)] == ["short", "too long"] or len(
        auth.list_tokens(owner)
    ) == 2
    clock.advance(2 * 86400)
    with pytest.raises(UnauthenticatedError):
        auth.token_principal(short.secret)
    auth.revoke_token(owner, capped.record.id)
    with pytest.raises(UnauthenticatedError):
        auth.token_principal(capped.secret)
    with pytest.raises(NotFoundError):
        auth.revoke_token(owner, capped.record.id)
    last = auth.issue_token(owner, "last")
    auth.delete_user(name)
    with pytest.raises(UnauthenticatedError):
        auth.token_principal(last.secret)


def test_a_role_removed_mid_session_is_gone_on_the_next_request(
    inventory: Store, auth: AuthService, name: str
) -> None:
    auth.create_user(name, TEST_PASSWORD, [RoleGrant("investigator", frozenset({SiteId("a")}))])
    secret = auth.login(name, TEST_PASSWORD, "10.8.0.1").secret
    a1 = inventory.cameras.get(CameraId("a1"))
    assert a1 is not None
    assert auth.session_principal(secret).can(Permission.EXPORT, a1)
    auth.update_user(name, UserChange(grants=(RoleGrant("viewer", frozenset({SiteId("a")})),)))
    assert not auth.session_principal(secret).can(Permission.EXPORT, a1)


def test_principals_are_scoped_to_sites_and_cameras(inventory: Store, auth: AuthService, name: str) -> None:
    grants = [
        RoleGrant("viewer", frozenset({SiteId("a")})),
        RoleGrant("investigator", cameras=frozenset({CameraId("b1")})),
    ]
    principal = auth.principal_of(auth.create_user(name, TEST_PASSWORD, grants))
    cameras = {camera.id: camera for camera in inventory.cameras.list()}
    assert [c.id for c in principal.visible_cameras(cameras.values())] == ["a1", "a2", "b1"]
    assert principal.can(Permission.VIEW_LIVE, cameras[CameraId("a2")])
    assert not principal.can(Permission.EXPORT, cameras[CameraId("a1")])
    assert principal.can(Permission.EXPORT, cameras[CameraId("b1")])
    assert principal.can(Permission.EXPORT)  # somewhere
    assert not principal.can(Permission.MANAGE_USERS)
    assert not principal.sees_everything(Permission.VIEW_CAMERAS)


def test_global_permissions_need_a_global_grant(auth: AuthService, name: str) -> None:
    scoped_admin = auth.create_user(name, TEST_PASSWORD, [RoleGrant("admin", frozenset({SiteId("a")}))])
    principal = auth.principal_of(scoped_admin)
    assert principal.can(Permission.EXPORT)
    assert not principal.can(Permission.MANAGE_USERS)
    assert not principal.can(Permission.VIEW_METRICS)


def test_first_admin_is_created_once_with_a_generated_password(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'first.db'}")
    try:
        auth = AuthService(store.auth, AuthConfig(), fast_passwords())
        password = auth.ensure_first_admin()
        assert password is not None
        assert len(password) >= 16
        assert auth.ensure_first_admin() is None
        assert auth.login("admin", password, "127.0.0.1").principal.can(Permission.MANAGE_USERS)
        other = AuthService(store.auth, AuthConfig(), fast_passwords())
        assert other.ensure_first_admin() is None
    finally:
        store.close()
