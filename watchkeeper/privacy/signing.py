"""The Ed25519 key that signs evidence manifests (private key file mode 0600, made on first run)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from watchkeeper.domain import WatchkeeperError


class SigningKeyError(WatchkeeperError):
    """The signing key file or a public key cannot be read, or is too open."""

    code = "signing_key"


class ExportSigner:
    """Signs manifests with the installation's Ed25519 key."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        """Sign with ``key``."""
        self._key = key

    @classmethod
    def open(cls, path: Path) -> ExportSigner:
        """Load the key file, creating it (mode 0600) when missing.

        Raises:
            SigningKeyError: Unreadable, not an Ed25519 PEM key, or readable by group/others.
        """
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                pem = Ed25519PrivateKey.generate().private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(pem)
            mode = stat.S_IMODE(path.stat().st_mode)
            data = path.read_bytes()
        except OSError as err:
            raise SigningKeyError(f"cannot use signing key file {path}: {err.strerror}") from err
        if mode & 0o077:
            raise SigningKeyError(f"signing key file {path} is readable by group or others; chmod 600 it")
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except ValueError as err:
            raise SigningKeyError(f"signing key file {path} is not a PEM private key") from err
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"signing key file {path} is not an Ed25519 key")
        return cls(key)

    def sign(self, data: bytes) -> bytes:
        """The 64-byte signature of ``data``."""
        return self._key.sign(data)

    def public_pem(self) -> bytes:
        """The public key (PEM, SubjectPublicKeyInfo) to hand to whoever verifies exports."""
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """Parse a PEM Ed25519 public key.

    Raises:
        SigningKeyError: If it is not one.
    """
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as err:
        raise SigningKeyError("not a PEM public key") from err
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError("the public key is not an Ed25519 key")
    return key


def signature_ok(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    """True when ``signature`` over ``data`` verifies with ``public_key``."""
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
