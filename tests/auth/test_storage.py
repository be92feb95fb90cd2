"""The auth repositories behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.auth.conftest import T0
from watchkeeper.auth.models import ApiTokenRecord, RoleGrant, SessionRecord, User, UserChange
from watchkeeper.domain import CameraId, DuplicateError, NotFoundError, SiteId
from watchkeeper.storage.protocols import Store


def _user(name: str, *grants: RoleGrant) -> User:
    return User(name, name.title(), "$argon2id$fake", T0, T0, grants)


def _session(session_id: str, user_id: int, start_s: float = 0, source: str = "10.0.0.1") -> SessionRecord:
    start = T0 + timedelta(seconds=start_s)
    return SessionRecord(
        session_id,
        user_id,
        f"hash-{session_id}",
        "csrf",
        start,
        start,
        start + timedelta(minutes=30),
        start + timedelta(hours=12),
        source,
        "pytest",
    )


def test_users_round_trip_with_scoped_grants(store: Store, name: str) -> None:
    grants = (
        RoleGrant("admin"),
        RoleGrant("viewer", frozenset({SiteId("a"), SiteId("b")}), frozenset({CameraId("c9")})),
    )
    added = store.auth.users.add(_user(name, *grants))
    assert added.id is not None
    fetched = store.auth.users.get(name)
    assert fetched == added
    assert store.auth.users.get_by_id(added.id) == added
    assert name in [user.username for user in store.auth.users.list()]
    assert store.auth.users.count() >= 1


def test_a_taken_username_is_a_duplicate(store: Store, name: str) -> None:
    store.auth.users.add(_user(name))
    with pytest.raises(DuplicateError, match=name):
        store.auth.users.add(_user(name))


def test_update_replaces_grants_and_keeps_other_fields(store: Store, name: str) -> None:
    store.auth.users.add(_user(name, RoleGrant("admin")))
    updated = store.auth.users.update(
        name, UserChange(disabled=True, grants=(RoleGrant("viewer", frozenset({SiteId("a")})),))
    )
    assert updated.disabled
    assert updated.display_name == name.title()
    assert updated.grants == (RoleGrant("viewer", frozenset({SiteId("a")})),)
    store.auth.users.set_password(name, "$argon2id$other", T0 + timedelta(days=1))
    again = store.auth.users.get(name)
    assert again is not None
    assert again.password_hash == "$argon2id$other"
    assert again.password_changed_at == T0 + timedelta(days=1)


@pytest.mark.parametrize("operation", ["update", "set_password", "delete"])
def test_missing_users_are_not_found(store: Store, operation: str) -> None:
    users = store.auth.users
    calls = {
        "update": lambda: users.update("nobody", UserChange(display_name="x")),
        "set_password": lambda: users.set_password("nobody", "h", T0),
        "delete": lambda: users.delete("nobody"),
    }
    with pytest.raises(NotFoundError, match="nobody"):
        calls[operation]()


def test_sessions_find_touch_list_revoke(store: Store, name: str) -> None:
    user = store.auth.users.add(_user(name))
    assert user.id is not None
    sessions = store.auth.sessions
    sessions.add(_session(f"{name}-1", user.id))
    sessions.add(_session(f"{name}-2", user.id, start_s=60))
    found = sessions.find(f"hash-{name}-1")
    assert found is not None
    assert found.user_id == user.id
    sessions.touch(found.id, T0 + timedelta(minutes=5), T0 + timedelta(minutes=35))
    touched = sessions.find(f"hash-{name}-1")
    assert touched is not None
    assert touched.expires_at == T0 + timedelta(minutes=35)
    assert [s.id for s in sessions.list(user.id, T0 + timedelta(minutes=2))] == [f"{name}-2", f"{name}-1"]
    assert sessions.known_source(user.id, "10.0.0.1", T0 - timedelta(days=1))
    assert not sessions.known_source(user.id, "10.9.9.9", T0 - timedelta(days=1))
    assert sessions.revoke(user.id, f"{name}-1", T0)
    assert not sessions.revoke(user.id, f"{name}-1", T0)  # already revoked
    assert not sessions.revoke(user.id + 1000, f"{name}-2", T0)  # someone else's
    assert sessions.revoke_all(user.id, T0, keep=f"{name}-2") == 0
    assert sessions.revoke_all(user.id, T0) == 1
    assert sessions.list(user.id, T0 + timedelta(minutes=2)) == []
    assert sessions.find("hash-unknown") is None


def test_tokens_and_deleting_a_user_removes_everything(store: Store, name: str) -> None:
    user = store.auth.users.add(_user(name))
    assert user.id is not None
    token = ApiTokenRecord(f"{name}-t", user.id, "ci", f"thash-{name}", T0, T0 + timedelta(days=30))
    store.auth.tokens.add(token)
    store.auth.sessions.add(_session(f"{name}-s", user.id))
    assert store.auth.tokens.find(f"thash-{name}") == token
    store.auth.tokens.touch(token.id, T0 + timedelta(hours=1))
    assert [t.last_used_at for t in store.auth.tokens.list(user.id)] == [T0 + timedelta(hours=1)]
    store.auth.users.delete(name)
    assert store.auth.users.get(name) is None
    assert store.auth.tokens.find(f"thash-{name}") is None
    assert store.auth.sessions.find(f"hash-{name}-s") is None


def test_token_revocation(store: Store, name: str) -> None:
    user = store.auth.users.add(_user(name))
    assert user.id is not None
    store.auth.tokens.add(
        ApiTokenRecord(f"{name}-t", user.id, "ci", f"thash-{name}", T0, T0 + timedelta(days=1))
    )
    assert store.auth.tokens.revoke(user.id, f"{name}-t", T0)
    assert not store.auth.tokens.revoke(user.id, f"{name}-t", T0)
    assert store.auth.tokens.list(user.id) == []


def test_throttle_counts_blocks_resets_and_clears(store: Store, name: str) -> None:
    throttles = store.auth.throttles
    key = f"user:{name}"

    def delay(failures: int) -> timedelta | None:
        return timedelta(seconds=failures) if failures >= 2 else None

    first = throttles.fail(key, T0, timedelta(minutes=15), delay)
    assert (first.failures, first.blocked_until) == (1, None)
    second = throttles.fail(key, T0 + timedelta(seconds=1), timedelta(minutes=15), delay)
    assert second.failures == 2
    assert second.blocked_until == T0 + timedelta(seconds=3)
    assert throttles.get(key) == second
    later = throttles.fail(key, T0 + timedelta(hours=1), timedelta(minutes=15), delay)
    assert later.failures == 1  # the old failures were forgotten
    throttles.clear(key)
    assert throttles.get(key) is None
