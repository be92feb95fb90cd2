"""The worker's outbox file: index rows and events waiting for the shared store, in order, on local disk.

A small SQLite file in the worker's data folder (``<data>/outbox/<worker>.sqlite``). Every segment row and
every event change of the worker's cameras is appended here first (with the fencing token of the lease it
was recorded under) and removed once the shared store has taken it, so nothing is lost while the store is
away, nor when the worker stops or dies with rows still waiting: the next start replays them.

One process owns a journal: an exclusive ``flock`` on ``<file>.lock`` refuses a second one (two workers
sharing a data folder without ``cluster.worker_id``).
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO

from pydantic import BaseModel, ConfigDict, ValidationError

from watchkeeper.bus.errors import MessageFormatError
from watchkeeper.bus.messages import EventMessage, UtcDatetime, decode, encode
from watchkeeper.domain import CameraId, Event, Rendition, Segment, StorageTier, WatchkeeperError, utcnow
from watchkeeper.domain.custody import DataKeyRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    camera_id TEXT NOT NULL,
    token INTEGER NOT NULL,
    payload TEXT NOT NULL,
    published INTEGER NOT NULL DEFAULT 0,
    queued_at TEXT NOT NULL
)
"""


class OutboxError(WatchkeeperError):
    """The outbox file cannot be opened, is owned by another process, or holds an unreadable row."""

    code = "outbox_error"


class OutboxInUseError(OutboxError):
    """Another process holds the outbox file."""

    code = "outbox_in_use"


MAX_SHARED = 32
"""Most processes of one host that share a journal name (``<name>``, ``<name>-1`` ... ``<name>-31``)."""


class EntryKind(StrEnum):
    """What an outbox row carries."""

    SEGMENT = "segment"
    EVENT = "event"
    DATA_KEY = "data_key"
    """A data key made while the store was away, wrapped by the master key (never in clear)."""


class _SegmentRecord(BaseModel):
    """A segment index row as the outbox stores it (JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    camera_id: str
    start: UtcDatetime
    end: UtcDatetime
    path: str
    size_bytes: int
    video_codec: str
    width: int
    height: int
    keyframes: int
    audio_codec: str | None = None
    rendition: Rendition = Rendition.ORIGINAL
    tier: StorageTier = StorageTier.HOT
    object_key: str | None = None
    sha256: str | None = None


class _DataKeyRecord(BaseModel):
    """A wrapped data key as the outbox stores it (JSON; ``wrapped`` in base64)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    camera_id: str
    day: date
    master_key_id: str
    wrapped_b64: str
    created_at: UtcDatetime


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One waiting write.

    Attributes:
        seq: Position in the outbox (replay order).
        kind: Segment index row or event change.
        camera_id: The camera it belongs to.
        token: Fencing token of the lease it was recorded under.
        payload: JSON of the segment row, or the event's bus message (with its ``event_state``).
        published: Already announced on the bus while the store was away (not announced again).
        queued_at: When it was appended.
    """

    seq: int
    kind: EntryKind
    camera_id: CameraId
    token: int
    payload: str
    published: bool
    queued_at: datetime

    def segment(self) -> Segment:
        """The segment of a ``segment`` entry.

        Raises:
            OutboxError: The payload is not a segment row.
        """
        try:
            record = _SegmentRecord.model_validate_json(self.payload)
        except ValidationError as err:
            raise OutboxError(
                f"outbox row {self.seq} is not a segment: {err.error_count()} error(s)"
            ) from err
        return Segment(id=None, **{**record.model_dump(), "camera_id": CameraId(record.camera_id)})

    def event(self) -> EventMessage:
        """The event message (event and its ``event_state``) of an ``event`` entry.

        Raises:
            OutboxError: The payload is not an event message.
        """
        try:
            message = decode(self.payload.encode("utf-8"))
        except MessageFormatError as err:
            raise OutboxError(f"outbox row {self.seq}: {err}") from err
        if not isinstance(message, EventMessage):
            raise OutboxError(f"outbox row {self.seq} is a {message.type}, not an event")
        return message

    def data_key(self) -> DataKeyRecord:
        """The wrapped data key of a ``data_key`` entry.

        Raises:
            OutboxError: The payload is not a wrapped data key.
        """
        try:
            record = _DataKeyRecord.model_validate_json(self.payload)
            base64.b64decode(record.wrapped_b64, validate=True)
        except (ValidationError, binascii.Error) as err:
            raise OutboxError(
                f"outbox row {self.seq} is not a wrapped data key: {err}".splitlines()[0]
            ) from err
        return DataKeyRecord(
            record.id,
            CameraId(record.camera_id),
            record.day,
            record.master_key_id,
            base64.b64decode(record.wrapped_b64),
            record.created_at,
        )


@dataclass(frozen=True, slots=True)
class NewEntry:
    """A write to append: what it is, its camera, its fencing token, its JSON, and whether it went out."""

    kind: EntryKind
    camera_id: CameraId
    token: int
    payload: str
    published: bool = False

    @classmethod
    def of_segment(cls, segment: Segment, token: int, *, published: bool) -> NewEntry:
        """The entry of ``segment``'s index row."""
        return cls(EntryKind.SEGMENT, segment.camera_id, token, segment_payload(segment), published)

    @classmethod
    def of_event(cls, event: Event, event_state: str, token: int, *, published: bool) -> NewEntry:
        """The entry of an event change."""
        return cls(EntryKind.EVENT, event.camera_id, token, event_payload(event, event_state), published)

    @classmethod
    def of_data_key(cls, record: DataKeyRecord) -> NewEntry:
        """The entry of a wrapped data key (unfenced: files sealed with it need it, whoever indexes them)."""
        payload = _DataKeyRecord(
            id=record.id,
            camera_id=record.camera_id,
            day=record.day,
            master_key_id=record.master_key_id,
            wrapped_b64=base64.b64encode(record.wrapped).decode("ascii"),
            created_at=record.created_at,
        ).model_dump_json()
        return cls(EntryKind.DATA_KEY, record.camera_id, 0, payload, published=True)


def segment_payload(segment: Segment) -> str:
    """The outbox JSON of ``segment`` (its index id is not kept: the store assigns one)."""
    fields = {name: getattr(segment, name) for name in _SegmentRecord.model_fields}
    return _SegmentRecord.model_validate(fields).model_dump_json()


def event_payload(event: Event, event_state: str) -> str:
    """The outbox JSON of an event change: its bus message."""
    return encode(EventMessage.from_domain(event, event_state)).decode("utf-8")


class OutboxJournal:
    """The outbox file: append, read the oldest rows, remove delivered ones (thread-safe)."""

    def __init__(self, path: Path) -> None:
        """Open (create) the journal at ``path`` and take its lock.

        Raises:
            OutboxError: The folder is not writable, the file is not a journal, or another process holds it.
        """
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_file: IO[bytes] = path.with_name(path.name + ".lock").open("ab")
        except OSError as err:
            raise OutboxError(f"cannot open the outbox {path}: {err.strerror or err}") from err
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            self._lock_file.close()
            raise OutboxInUseError(
                f"the outbox {path} is in use by another process (give each worker its own "
                "cluster.worker_id or data folder)"
            ) from err
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute(SCHEMA)
        except sqlite3.Error as err:
            self._lock_file.close()
            raise OutboxError(f"cannot open the outbox {path}: {err}") from err
        os.chmod(path, 0o600)  # index rows name files and times of private footage

    def append(self, entry: NewEntry) -> int:
        """Append one waiting write; returns its ``seq``."""
        with self._guard():
            cursor = self._db.execute(
                "INSERT INTO outbox (kind, camera_id, token, payload, published, queued_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    entry.kind.value,
                    entry.camera_id,
                    entry.token,
                    entry.payload,
                    int(entry.published),
                    utcnow().isoformat(),
                ),
            )
            return int(cursor.lastrowid or 0)

    def head(self, limit: int = 100) -> list[OutboxEntry]:
        """The ``limit`` oldest waiting writes, oldest first."""
        with self._guard():
            rows = self._db.execute(
                "SELECT seq, kind, camera_id, token, payload, published, queued_at FROM outbox "
                "ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [_entry(row) for row in rows]

    def unpublished(self, limit: int = 1000) -> list[OutboxEntry]:
        """Waiting writes not yet announced on the bus, oldest first."""
        with self._guard():
            rows = self._db.execute(
                "SELECT seq, kind, camera_id, token, payload, published, queued_at FROM outbox "
                "WHERE published = 0 ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [_entry(row) for row in rows]

    def mark_published(self, seq: int) -> None:
        """Note that the write ``seq`` was announced on the bus."""
        with self._guard():
            self._db.execute("UPDATE outbox SET published = 1 WHERE seq = ?", (seq,))

    def remove(self, seq: int) -> None:
        """Forget a delivered (or refused) write."""
        with self._guard():
            self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def remove_through(self, seq: int) -> None:
        """Forget every write up to ``seq`` (the head of the outbox, handled as one batch)."""
        with self._guard():
            self._db.execute("DELETE FROM outbox WHERE seq <= ?", (seq,))

    def depth(self) -> int:
        """How many writes wait."""
        with self._guard():
            row = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(row[0])

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Hold the lock; turn SQLite's errors (disk full, I/O) into ``OutboxError``."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as err:
                raise OutboxError(f"outbox {self.path}: {err}") from err

    def close(self) -> None:
        """Close the file and release the lock (waiting rows stay for the next start)."""
        with self._lock:
            self._db.close()
        self._lock_file.close()


def open_journal(folder: Path, name: str, *, shared_name: bool) -> OutboxJournal:
    """Open ``folder/<name>.sqlite``; with ``shared_name``, the next free ``<name>-<n>`` when it is in use.

    ``shared_name`` is for a name several processes of one host may share (the host name, when workers have
    no ``cluster.worker_id``): each takes the first journal no other process holds, and replays what a
    previous run left there (its rows carry their fencing tokens, so whoever replays them is fenced alike).

    Raises:
        OutboxError: The journal cannot be opened, or (without ``shared_name``) another process holds it.
    """
    number = 0
    while True:
        suffix = f"-{number}" if number else ""
        try:
            return OutboxJournal(folder / f"{name}{suffix}.sqlite")
        except OutboxInUseError:
            number += 1
            if not shared_name or number >= MAX_SHARED:
                raise


def _entry(row: tuple[int, str, str, int, str, int, str]) -> OutboxEntry:
    seq, kind, camera_id, token, payload, published, queued_at = row
    return OutboxEntry(
        seq=seq,
        kind=EntryKind(kind),
        camera_id=CameraId(camera_id),
        token=token,
        payload=payload,
        published=bool(published),
        queued_at=datetime.fromisoformat(queued_at),
    )


def describe(entry: OutboxEntry) -> str:
    """A short text for logs: what the row is (segment path, or event id and state)."""
    try:
        data = json.loads(entry.payload)
    except json.JSONDecodeError:
        return f"row {entry.seq}"
    if entry.kind is EntryKind.SEGMENT:
        return f"segment {data.get('path')}"
    if entry.kind is EntryKind.DATA_KEY:
        return f"data key {data.get('id')}"
    return f"event {data.get('id')} ({data.get('event_state')})"
