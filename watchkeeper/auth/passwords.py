"""Password hashing (argon2id) and the secrets of sessions and tokens (random, stored as SHA-256)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from watchkeeper.auth.errors import WeakPasswordError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
SESSION_PREFIX = "wks_"
TOKEN_PREFIX = "wkt_"  # noqa: S105 (a prefix, not a secret)


class Passwords:
    """argon2id hashing with the library's recommended parameters (RFC 9106 low-memory profile)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        """Use ``hasher`` (tests may pass cheaper parameters) or the library defaults."""
        self._hasher = hasher or PasswordHasher()
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        """Hash a new password after checking its length.

        Raises:
            WeakPasswordError: If it is shorter than ``MIN_PASSWORD_LENGTH`` or absurdly long.
        """
        check_password_strength(password)
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; with no hash a dummy is checked so timing does not tell."""
        target = password_hash if password_hash is not None else self._dummy
        if len(password) > MAX_PASSWORD_LENGTH:
            return False
        try:
            matched = self._hasher.verify(target, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return matched and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with weaker parameters than the current ones."""
        return self._hasher.check_needs_rehash(password_hash)


def check_password_strength(password: str) -> None:
    """Refuse passwords that are too short or too long.

    Raises:
        WeakPasswordError: With the rule that failed.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPasswordError(f"the password may have at most {MAX_PASSWORD_LENGTH} characters")


def generate_password() -> str:
    """A random password for the first admin (about 128 bits)."""
    return secrets.token_urlsafe(16)


def new_secret(prefix: str) -> str:
    """A random bearer secret (256 bits) with a recognisable prefix (for secret scanners)."""
    return prefix + secrets.token_urlsafe(32)


def new_id() -> str:
    """A random public identifier of a session or token (not a secret)."""
    return secrets.token_hex(12)


def secret_hash(secret: str) -> str:
    """SHA-256 of a high-entropy secret, as stored (a slow hash is not needed for 256 random bits)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def same_secret(a: str, b: str) -> bool:
    """Constant-time comparison."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))
