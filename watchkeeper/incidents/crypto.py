"""Phone-in caller details encrypted at rest (AES-256-GCM, key in a 0600 key file made on first run)."""

from __future__ import annotations

import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from watchkeeper.incidents.errors import CallerKeyError

_VERSION = b"\x01"
_NONCE_BYTES = 12
_KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class CallerContact:
    """Who called the control room and how to call them back."""

    callback_number: str
    name: str = ""

    @property
    def masked(self) -> str:
        """The number with all but its last two digits hidden (for those who may not see it)."""
        visible = self.callback_number[-2:] if len(self.callback_number) > 4 else ""
        return "•" * max(len(self.callback_number) - len(visible), 4) + visible


def load_or_create_key(path: Path) -> bytes:
    """The AES-256 key in ``path``; created with mode 0600 (folder 0700) when missing.

    Raises:
        CallerKeyError: If the file cannot be created or read, is not 32 bytes, or is readable by others.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    except OSError as err:
        raise CallerKeyError(
            f"cannot create caller key file {path}: {(err.strerror or str(err)).lower()}"
        ) from err
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(_KEY_BYTES))
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        data = path.read_bytes()
    except OSError as err:
        raise CallerKeyError(
            f"cannot read caller key file {path}: {(err.strerror or str(err)).lower()}"
        ) from err
    if mode & 0o077:
        raise CallerKeyError(f"caller key file {path} is readable by others (mode {mode:o}); chmod 600 it")
    if len(data) != _KEY_BYTES:
        raise CallerKeyError(f"caller key file {path} must hold {_KEY_BYTES} bytes, it holds {len(data)}")
    return data


class CallerVault:
    """Encrypts and decrypts caller details, bound to their incident id (AES-GCM associated data)."""

    def __init__(self, key: bytes) -> None:
        """Use the 32-byte ``key``."""
        self._aead = AESGCM(key)

    def seal(self, incident_id: str, contact: CallerContact) -> bytes:
        """The ciphertext of ``contact`` for ``incident_id`` (version byte + nonce + ciphertext)."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        plain = json.dumps({"number": contact.callback_number, "name": contact.name}).encode("utf-8")
        return _VERSION + nonce + self._aead.encrypt(nonce, plain, incident_id.encode("utf-8"))

    def open(self, incident_id: str, sealed: bytes) -> CallerContact:
        """The contact sealed for ``incident_id``.

        Raises:
            CallerKeyError: If the data was not sealed with this key for this incident.
        """
        if sealed[:1] != _VERSION:
            raise CallerKeyError(f"caller details of incident {incident_id} have an unknown format")
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            plain = self._aead.decrypt(nonce, body, incident_id.encode("utf-8"))
        except InvalidTag as err:
            raise CallerKeyError(
                f"caller details of incident {incident_id} do not decrypt with this key"
            ) from err
        data = json.loads(plain)
        return CallerContact(callback_number=str(data["number"]), name=str(data.get("name", "")))
