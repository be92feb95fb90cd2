"""Helpers for tests that need users: cheap argon2 parameters, users with known passwords, tokens."""

from __future__ import annotations

from argon2 import PasswordHasher

from watchkeeper.auth.models import RoleGrant
from watchkeeper.auth.passwords import Passwords
from watchkeeper.auth.service import AuthService
from watchkeeper.config.auth import AuthConfig
from watchkeeper.storage.protocols import Store

TEST_PASSWORD = "correct horse battery staple"


def fast_passwords() -> Passwords:
    """argon2id with tiny costs: same code path, milliseconds instead of ~100 ms per hash."""
    return Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def service(store: Store, config: AuthConfig | None = None) -> AuthService:
    """An auth service over ``store`` with fast hashing."""
    return AuthService(store.auth, config or AuthConfig(), fast_passwords())


def user_token(store: Store, username: str, *grants: RoleGrant) -> str:
    """Create ``username`` with ``grants`` (password ``TEST_PASSWORD``); returns a bearer token of theirs."""
    auth = service(store)
    user = auth.create_user(username, TEST_PASSWORD, list(grants))
    return auth.issue_token(auth.principal_of(user), "tests").secret


def admin_headers(store: Store, username: str = "test-admin") -> dict[str, str]:
    """``Authorization`` headers of a new global admin (for tests of other areas that need a caller)."""
    return {"Authorization": f"Bearer {user_token(store, username, RoleGrant('admin'))}"}
