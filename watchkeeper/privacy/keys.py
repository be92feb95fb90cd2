"""Master keys (outside the database) and the per-camera, per-day data keys they wrap.

The master key lives in a key file (mode 0600, made on first run); a KMS can replace it later behind
:class:`KeyProvider`. Data keys are random AES-256 keys, one per camera per UTC day (a worker cut off from
the store makes its own, see :class:`SegmentKeys`), stored in the database only wrapped (AES-GCM under the
master key, bound to the data key's id). Rotating the master key rewraps the data keys; no media is
re-encrypted.

Key file format: one ``<key id> <base64 key>`` line per master key, the last line is the current key.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from watchkeeper.domain import CameraId, StorageUnavailableError, WatchkeeperError, utcnow
from watchkeeper.domain.custody import DataKeyRecord
from watchkeeper.storage.custody import DataKeyRepository

log = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12


class KeyUnavailableError(WatchkeeperError):
    """A master or data key cannot be found, read or used."""

    code = "key_error"


class MasterKeyFileError(KeyUnavailableError):
    """The master key file is missing (while encrypted data exists), unreadable, malformed or too open."""

    code = "master_key_file"


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key encrypted under the master key ``master_key_id``."""

    master_key_id: str
    blob: bytes


@dataclass(frozen=True, slots=True)
class DataKey:
    """A usable (unwrapped) data key and its id (written into every segment header)."""

    id: str
    key: bytes


class KeyProvider(Protocol):
    """Wraps and unwraps data keys with a master key it never hands out (key file today, KMS later)."""

    @property
    def current_id(self) -> str:
        """Id of the master key new data keys are wrapped with."""
        ...

    def wrap(self, data_key: bytes, context: bytes) -> WrappedKey:
        """Encrypt ``data_key`` under the current master key, bound to ``context``."""
        ...

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        """Decrypt a wrapped data key.

        Raises:
            KeyUnavailableError: If the master key is unknown or the wrapping does not authenticate.
        """
        ...


def _check_mode(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise MasterKeyFileError(
            f"master key file {path} is readable by group or others (mode {mode:o}); run `chmod 600 {path}`"
        )


def _parse_keys(path: Path, text: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        key_id, _, encoded = line.strip().partition(" ")
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError as err:
            raise MasterKeyFileError(f"master key file {path} line {number} is not `<id> <base64>`") from err
        if len(key) != KEY_BYTES or not key_id:
            raise MasterKeyFileError(f"master key file {path} line {number} does not hold a 32-byte key")
        keys[key_id] = key
    if not keys:
        raise MasterKeyFileError(f"master key file {path} holds no key")
    return keys


def _new_key_line() -> str:
    key_id = f"mk-{utcnow().strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(3)}"
    return f"{key_id} {base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}\n"


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


class FileKeyProvider:
    """Master keys from a key file (mode 0600); the last key in the file is the current one."""

    def __init__(self, path: Path, keys: dict[str, bytes]) -> None:
        """Use ``keys`` read from ``path`` (see :meth:`open`)."""
        self._path = path
        self._keys = dict(keys)
        self._current = list(keys)[-1]

    @classmethod
    def open(cls, path: Path, *, encrypted_data_exists: bool) -> FileKeyProvider:
        """Read the key file, creating it (one fresh key, mode 0600) when missing and nothing needs it.

        Raises:
            MasterKeyFileError: The file is missing while encrypted data exists, unreadable, malformed, or
                readable by group or others.
        """
        try:
            if not path.exists():
                if encrypted_data_exists:
                    raise MasterKeyFileError(
                        f"master key file {path} is missing but encrypted recordings exist; restore it "
                        "from your backup (without it the originals cannot be decrypted)"
                    )
                _write_private(path, _new_key_line())
                log.info("created master key file %s (mode 600): back it up somewhere safe", path)
            _check_mode(path)
            text = path.read_text(encoding="ascii")
        except OSError as err:
            raise MasterKeyFileError(
                f"cannot use master key file {path}: {(err.strerror or str(err)).lower()}"
            ) from err
        except UnicodeDecodeError as err:
            raise MasterKeyFileError(f"master key file {path} is not a text key file") from err
        return cls(path, _parse_keys(path, text))

    @property
    def path(self) -> Path:
        """The key file."""
        return self._path

    @property
    def current_id(self) -> str:
        """Id of the current master key."""
        return self._current

    def wrap(self, data_key: bytes, context: bytes) -> WrappedKey:
        """AES-GCM of ``data_key`` under the current master key (nonce first)."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        blob = nonce + AESGCM(self._keys[self._current]).encrypt(nonce, data_key, context)
        return WrappedKey(self._current, blob)

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        """Decrypt a wrapped data key."""
        master = self._keys.get(wrapped.master_key_id)
        if master is None:
            raise KeyUnavailableError(
                f"master key {wrapped.master_key_id} is not in {self._path} (was the key file replaced?)"
            )
        try:
            return AESGCM(master).decrypt(wrapped.blob[:NONCE_BYTES], wrapped.blob[NONCE_BYTES:], context)
        except InvalidTag as err:
            raise KeyUnavailableError(
                f"a data key wrapped by {wrapped.master_key_id} does not authenticate"
            ) from err

    def begin_rotation(self) -> FileKeyProvider:
        """Append a new current key to the file (old keys kept so everything stays readable meanwhile)."""
        lines = [f"{key_id} {base64.b64encode(key).decode()}\n" for key_id, key in self._keys.items()]
        _write_private(self._path, "".join(lines) + _new_key_line())
        return FileKeyProvider.open(self._path, encrypted_data_exists=True)

    def finish_rotation(self) -> FileKeyProvider:
        """Drop every key but the current one from the file (after all data keys were rewrapped)."""
        current = self._keys[self._current]
        _write_private(self._path, f"{self._current} {base64.b64encode(current).decode()}\n")
        return FileKeyProvider.open(self._path, encrypted_data_exists=True)


def _context(key_id: str) -> bytes:
    return f"watchkeeper data key {key_id}".encode()


@dataclass(frozen=True, slots=True)
class KeyOutbox:
    """Where a worker keeps the data keys it makes while the store is away (its store outbox).

    Attributes:
        keep: Queues a wrapped key ahead of every segment sealed with it; raises ``WatchkeeperError`` when
            it cannot (the key is then not used).
        store_away: True while the store does not take writes (keys are then made without asking it).
    """

    keep: Callable[[DataKeyRecord], None]
    store_away: Callable[[], bool]


class SegmentKeys:
    """Hands out data keys: one per camera per UTC day, created on first use, cached unwrapped in memory.

    With :attr:`outbox` set (a worker), a day whose key the store cannot give (it is away, at midnight or
    at start-up) gets a key made here: random, wrapped by the master key like any other, under an id of its
    own (``<camera>/<day>/<random>``), and queued wrapped in the outbox before the first segment sealed with
    it, so the store has it before the segment's index row. The plaintext key lives only in memory.
    """

    def __init__(self, provider: KeyProvider, repository: DataKeyRepository) -> None:
        """Wrap and unwrap with ``provider``; store wrapped keys in ``repository``."""
        self._provider = provider
        self._repository = repository
        self._cache: dict[str, bytes] = {}
        self._writing: dict[str, str] = {}
        """``<camera>/<day>`` -> the id of the key that day's segments are sealed with."""
        self._lock = threading.Lock()
        self.outbox: KeyOutbox | None = None

    def for_writing(self, camera_id: CameraId, at: datetime) -> DataKey:
        """The data key of ``camera_id`` for the UTC day of ``at`` (made and stored when new).

        Raises:
            StorageUnavailableError: The store is away and no :attr:`outbox` is set.
            KeyUnavailableError: A key made while the store is away cannot be queued.
        """
        day = at.date()
        slot = f"{camera_id}/{day.isoformat()}"
        with self._lock:
            key_id = self._writing.get(slot, slot)
            cached = self._cache.get(key_id)
        if cached is not None:
            return DataKey(key_id, cached)
        outbox = self.outbox
        if outbox is not None and outbox.store_away():
            return self._make_away(camera_id, day, outbox)
        try:
            stored = self._repository.get(slot)
            if stored is None:
                stored = self._create(slot, camera_id, day)
        except StorageUnavailableError:
            if outbox is None:
                raise
            return self._make_away(camera_id, day, outbox)
        key = self._unwrap(stored)
        with self._lock:
            self._writing[slot] = stored.id
        return DataKey(stored.id, key)

    def _make_away(self, camera_id: CameraId, day: date, outbox: KeyOutbox) -> DataKey:
        """A new key of ``camera_id``'s ``day`` made here and queued (wrapped) in ``outbox``."""
        key_id = f"{camera_id}/{day.isoformat()}/{secrets.token_hex(4)}"
        key = secrets.token_bytes(KEY_BYTES)
        wrapped = self._provider.wrap(key, _context(key_id))
        record = DataKeyRecord(key_id, camera_id, day, wrapped.master_key_id, wrapped.blob, utcnow())
        try:
            outbox.keep(record)
        except WatchkeeperError as err:
            raise KeyUnavailableError(
                f"the data key of camera {camera_id} for {day} cannot be kept while the store is away: {err}"
            ) from err
        with self._lock:
            self._cache[key_id] = key
            self._writing[f"{camera_id}/{day.isoformat()}"] = key_id
        log.warning(
            "camera %s: store away, made data key %s here (wrapped; it reaches the store through the outbox)",
            camera_id,
            key_id,
            extra={"camera": camera_id},
        )
        return DataKey(key_id, key)

    def for_reading(self, key_id: str) -> bytes:
        """The data key named in a segment header.

        Raises:
            KeyUnavailableError: If there is no such key or it cannot be unwrapped.
        """
        with self._lock:
            cached = self._cache.get(key_id)
        if cached is not None:
            return cached
        stored = self._repository.get(key_id)
        if stored is None:
            raise KeyUnavailableError(f"data key {key_id!r} does not exist")
        return self._unwrap(stored)

    def _create(self, key_id: str, camera_id: CameraId, day: date) -> DataKeyRecord:
        wrapped = self._provider.wrap(secrets.token_bytes(KEY_BYTES), _context(key_id))
        record = DataKeyRecord(key_id, camera_id, day, wrapped.master_key_id, wrapped.blob, utcnow())
        return self._repository.add(record)

    def _unwrap(self, record: DataKeyRecord) -> bytes:
        key = self._provider.unwrap(WrappedKey(record.master_key_id, record.wrapped), _context(record.id))
        with self._lock:
            self._cache[record.id] = key
        return key


def rewrap_all(old: KeyProvider, new: KeyProvider, repository: DataKeyRepository) -> int:
    """Rewrap every data key under ``new``'s current master key; returns how many were rewrapped.

    ``old`` must still know every master key the keys are wrapped with (``new`` usually does too).
    """
    count = 0
    for record in repository.list():
        if record.master_key_id == new.current_id:
            continue
        key = old.unwrap(WrappedKey(record.master_key_id, record.wrapped), _context(record.id))
        wrapped = new.wrap(key, _context(record.id))
        repository.rewrap(record.id, wrapped.master_key_id, wrapped.blob)
        count += 1
    return count
