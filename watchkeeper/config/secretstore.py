"""Encrypted secrets next to the configuration file: ``secrets.enc``, sealed with the key in ``secrets.key``.

The configuration refers to a secret as ``${secret:NAME}`` (see :mod:`watchkeeper.config.secretrefs`);
``watchkeeper secrets set/list/remove`` edits the store. Both files live in the folder of the config file.

File formats:

- ``secrets.key``: one line ``wk-secrets-key-1 <base64 of 32 random bytes>``, mode 0600 (refused when
  group or others may read it). Made by the first ``watchkeeper secrets set``.
- ``secrets.enc``: magic ``WKSECRETS1`` + newline | 8-byte key fingerprint | 12-byte nonce | AES-256-GCM
  of the JSON object ``{name: value}``, the magic and fingerprint authenticated as associated data. The
  fingerprint tells "another key" apart from "modified file".

This module uses ``cryptography`` directly: the configuration layer imports nothing above it (the custody
master key in ``watchkeeper.privacy.keys`` is a separate key with a separate job).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from watchkeeper.domain import WatchkeeperError

SECRETS_FILE = "secrets.enc"
"""Name of the encrypted secrets file, in the folder of the configuration file."""
KEY_FILE = "secrets.key"
"""Name of the key file (mode 0600), in the folder of the configuration file."""
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""A secret name: letters, digits, ``_``, ``.``, ``-``; at most 64 characters."""

_NAME = re.compile(NAME_PATTERN)
_MAGIC = b"WKSECRETS1\n"
_KEY_LABEL = "wk-secrets-key-1"
_KEY_BYTES = 32
_NONCE_BYTES = 12
_FINGERPRINT_BYTES = 8
_HEADER_BYTES = len(_MAGIC) + _FINGERPRINT_BYTES + _NONCE_BYTES


class SecretStoreError(WatchkeeperError):
    """The secrets file or its key file is missing, unreadable, too open, of another key, or tampered with."""

    code = "secret_store"


def check_secret_name(name: str) -> str:
    """Return ``name`` when it is a valid secret name.

    Raises:
        SecretStoreError: The name is empty, too long or has characters outside ``A-Z a-z 0-9 _ . -``.
    """
    if not _NAME.match(name):
        raise SecretStoreError(
            f"invalid secret name {name[:64]!r}: use letters, digits, '_', '.' and '-' (at most 64, "
            "starting with a letter or digit)"
        )
    return name


def _fingerprint(key: bytes) -> bytes:
    return hashlib.sha256(b"watchkeeper secrets key " + key).digest()[:_FINGERPRINT_BYTES]


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError:
        temp.unlink(missing_ok=True)
        raise


def _read_key(path: Path) -> bytes:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise SecretStoreError(
                f"secrets key file {path} is readable by group or others (mode {mode:o}); "
                f"run `chmod 600 {path}`"
            )
        text = path.read_text(encoding="ascii")
    except FileNotFoundError as err:
        raise SecretStoreError(
            f"secrets key file {path} is missing, so {path.with_name(SECRETS_FILE)} cannot be decrypted; "
            "restore it from your backup"
        ) from err
    except OSError as err:
        raise SecretStoreError(f"cannot read secrets key file {path}: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise SecretStoreError(f"secrets key file {path} is not a text key file") from err
    label, _, encoded = text.strip().partition(" ")
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except ValueError:
        key = b""
    if label != _KEY_LABEL or len(key) != _KEY_BYTES:
        raise SecretStoreError(
            f"secrets key file {path} is not a Watchkeeper secrets key "
            f"(expected one line `{_KEY_LABEL} <base64 of {_KEY_BYTES} bytes>`)"
        )
    return key


def _decrypt(path: Path, blob: bytes, key: bytes, key_path: Path) -> dict[str, str]:
    if not blob.startswith(_MAGIC) or len(blob) < _HEADER_BYTES:
        raise SecretStoreError(f"{path} is not a Watchkeeper secrets file")
    fingerprint = blob[len(_MAGIC) : len(_MAGIC) + _FINGERPRINT_BYTES]
    if fingerprint != _fingerprint(key):
        raise SecretStoreError(f"{path} was encrypted with another key than {key_path} (wrong key file?)")
    nonce = blob[len(_MAGIC) + _FINGERPRINT_BYTES : _HEADER_BYTES]
    try:
        plain = AESGCM(key).decrypt(nonce, blob[_HEADER_BYTES:], blob[: len(_MAGIC) + _FINGERPRINT_BYTES])
    except InvalidTag as err:
        raise SecretStoreError(
            f"{path} does not authenticate: it was modified or damaged; restore it from your backup"
        ) from err
    try:
        values = json.loads(plain.decode("utf-8"))
    except ValueError as err:
        raise SecretStoreError(f"{path} holds no valid secrets (written by another program?)") from err
    if not isinstance(values, dict) or not all(
        isinstance(name, str) and isinstance(value, str) for name, value in values.items()
    ):
        raise SecretStoreError(f"{path} holds no valid secrets (written by another program?)")
    return values


class SecretStore:
    """The secrets of one configuration folder, decrypted in memory; ``repr`` shows names only."""

    __slots__ = ("_key_path", "_path", "_values")

    def __init__(self, path: Path, key_path: Path, values: dict[str, str]) -> None:
        """Hold ``values`` read from ``path`` (see :meth:`open`)."""
        self._path = path
        self._key_path = key_path
        self._values = dict(values)

    @classmethod
    def open(cls, folder: Path) -> SecretStore:
        """Read and decrypt ``folder/secrets.enc`` (an empty store when the file does not exist yet).

        Args:
            folder: The folder of the configuration file.

        Raises:
            SecretStoreError: The key file is missing, too open or malformed, or the secrets file is
                unreadable, of another key or tampered with.
        """
        path, key_path = folder / SECRETS_FILE, folder / KEY_FILE
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return cls(path, key_path, {})
        except OSError as err:
            raise SecretStoreError(f"cannot read secrets file {path}: {err.strerror or err}") from err
        return cls(path, key_path, _decrypt(path, blob, _read_key(key_path), key_path))

    @property
    def path(self) -> Path:
        """The encrypted secrets file."""
        return self._path

    @property
    def key_path(self) -> Path:
        """The key file."""
        return self._key_path

    def names(self) -> list[str]:
        """The names of the stored secrets, sorted."""
        return sorted(self._values)

    def get(self, name: str) -> str | None:
        """The value of secret ``name``, or None when there is no such secret."""
        return self._values.get(name)

    def with_value(self, name: str, value: str) -> SecretStore:
        """Store ``value`` under ``name`` (creating the key file, mode 0600, on first use) and save.

        Raises:
            SecretStoreError: The name is invalid, the value empty, or the files cannot be written.
        """
        check_secret_name(name)
        if not value:
            raise SecretStoreError(f"secret {name!r} would be empty")
        return self._saved({**self._values, name: value})

    def without(self, name: str) -> SecretStore:
        """Remove secret ``name`` and save.

        Raises:
            SecretStoreError: There is no such secret, or the file cannot be written.
        """
        if name not in self._values:
            raise SecretStoreError(f"there is no secret {name[:64]!r} in {self._path}")
        return self._saved({key: value for key, value in self._values.items() if key != name})

    def _saved(self, values: dict[str, str]) -> SecretStore:
        try:
            if not self._key_path.exists() and not self._path.exists():
                line = f"{_KEY_LABEL} {base64.b64encode(secrets.token_bytes(_KEY_BYTES)).decode()}\n"
                _write_private(self._key_path, line.encode("ascii"))
            key = _read_key(self._key_path)
            header = _MAGIC + _fingerprint(key)
            nonce = secrets.token_bytes(_NONCE_BYTES)
            plain = json.dumps(values, sort_keys=True).encode("utf-8")
            _write_private(self._path, header + nonce + AESGCM(key).encrypt(nonce, plain, header))
        except OSError as err:
            raise SecretStoreError(f"cannot write secrets file {self._path}: {err.strerror or err}") from err
        return SecretStore(self._path, self._key_path, values)

    def __repr__(self) -> str:
        return f"SecretStore({str(self._path)!r}, names={self.names()!r})"
