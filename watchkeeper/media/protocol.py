"""The segment file store: the object-store protocol of the warm tier and the one reader of segment bytes.

Stages, the API and exports read a segment through :class:`SegmentFiles`, whichever tier holds it: a hot
segment is the file under the media root, a warm one is an :class:`ObjectReader` that fetches byte ranges
from the bucket as the reader moves (never a full download to a temporary file). The concrete object store
(``media.s3``) is chosen by ``runtime.wiring``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

from watchkeeper.domain import NotFoundError, Segment, StorageTier, WatchkeeperError

log = logging.getLogger(__name__)

READ_AHEAD = 256 * 1024
"""Smallest range one :class:`ObjectReader` read fetches (PyAV and the box scan read in small pieces)."""


class ObjectStoreError(WatchkeeperError):
    """The object store cannot be reached or failed the request (retried later; nothing is lost)."""

    code = "object_store_unavailable"


class ObjectStoreAuthError(ObjectStoreError):
    """The object store refused the credentials (wrong key id or secret, clock skew, no permission)."""

    code = "object_store_auth"


class SiteUnavailableError(ObjectStoreError):
    """A hot segment is in another site's media folder and no worker of that site answers now."""

    code = "site_unavailable"


class ObjectMissingError(NotFoundError):
    """The object is not in the bucket."""

    code = "object_missing"


class ChecksumMismatchError(ObjectStoreError):
    """The bytes read back from the bucket do not hash to the checksum computed before upload."""

    code = "object_checksum_mismatch"


class SegmentUnavailableError(NotFoundError):
    """A segment's bytes are in neither tier (local file gone, or warm without a bucket configured)."""

    code = "segment_unavailable"


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What the store says about one object."""

    key: str
    size: int
    etag: str
    sha256: str | None = None
    """The SHA-256 the uploader recorded in the object's metadata (``None`` when absent)."""


class ObjectStore(Protocol):
    """An S3-like bucket: whole-file uploads, ranged reads, deletes."""

    def put_file(self, key: str, path: Path, sha256: str) -> ObjectInfo:
        """Upload ``path`` under ``key``, recording ``sha256`` in the object metadata.

        Raises:
            ObjectStoreError: The upload failed (``ObjectStoreAuthError`` when the credentials are refused).
        """
        ...

    def stat(self, key: str) -> ObjectInfo:
        """Size, ETag and recorded SHA-256 of an object.

        Raises:
            ObjectMissingError: No such object.
            ObjectStoreError: The store failed.
        """
        ...

    def iter_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """The bytes ``[start, end)`` of an object, streamed in pieces (one ranged GET).

        Raises:
            ObjectMissingError: No such object.
            ObjectStoreError: The store failed.
        """
        ...

    def delete(self, key: str) -> None:
        """Delete an object (no error when it is already gone).

        Raises:
            ObjectStoreError: The store failed.
        """
        ...


class RemoteSegments(Protocol):
    """Where a hot segment whose file is not in this node's media folder can be read (another site's)."""

    def store_for(self, segment: Segment) -> ObjectStore | None:
        """A read-only store holding the segment's file under its ``path`` (None: not another site's).

        Raises:
            SiteUnavailableError: The segment is another site's and no worker of that site is reachable.
        """
        ...


def media_file(root: Path, relative_path: str) -> Path | None:
    """The regular file at ``relative_path`` under ``root`` (None: outside it, a link out, or no file)."""
    relative = PurePosixPath(relative_path)
    if relative.is_absolute() or ".." in relative.parts:
        return None
    base = root.resolve()
    try:
        candidate = (base / relative).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    return candidate if candidate.is_relative_to(base) and candidate.is_file() else None


class ObjectReader(io.RawIOBase):
    """A seekable, read-only file object over one object in the store (PyAV and the box scan can use it).

    Every read that misses the buffer fetches one ranged GET of at least ``READ_AHEAD`` bytes.
    """

    def __init__(self, store: ObjectStore, key: str, size: int | None = None) -> None:
        """Open ``key``; its size comes from ``stat`` unless given.

        Raises:
            ObjectMissingError: No such object.
            ObjectStoreError: The store failed.
        """
        super().__init__()
        self._store = store
        self.key = key
        self.size = store.stat(key).size if size is None else size
        self._pos = 0
        self._buffer = b""
        self._buffer_start = 0

    def readable(self) -> bool:
        """Always true."""
        return True

    def seekable(self) -> bool:
        """Always true."""
        return True

    def tell(self) -> int:
        """Current position."""
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move the position (nothing is fetched until the next read)."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Fill ``buffer`` from the current position; 0 at the end."""
        wanted = min(len(buffer), self.size - self._pos)
        if wanted <= 0:
            return 0
        inside = self._pos - self._buffer_start
        if not (0 <= inside and inside + wanted <= len(self._buffer)):
            end = min(self.size, self._pos + max(wanted, READ_AHEAD))
            self._buffer = b"".join(self._store.iter_range(self.key, self._pos, end))
            self._buffer_start = self._pos
            inside = 0
        data = self._buffer[inside : inside + wanted]
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


class SegmentFiles:
    """Where a segment's bytes are read from and deleted: the media folder (hot) or the bucket (warm)."""

    def __init__(
        self, media_root: Path, warm: ObjectStore | None = None, remote: RemoteSegments | None = None
    ) -> None:
        """``warm``: the bucket of the warm tier (``None``: no warm tier, warm segments cannot be read).

        ``remote``: where a hot segment of another site is read (its site's workers; ``None``: nowhere).
        """
        self.media_root = media_root
        self.warm = warm
        self.remote = remote

    def local_path(self, segment: Segment) -> Path | None:
        """The segment's file under the media root when it is a regular file there (links out refused)."""
        return media_file(self.media_root, segment.path)

    def available(self, segment: Segment) -> bool:
        """True when the segment can be read from some tier (no request made for a warm or remote one)."""
        if self.local_path(segment) is not None:
            return True
        if segment.tier is StorageTier.HOT:
            return self.remote is not None
        return segment.object_key is not None and self.warm is not None

    def _elsewhere(self, segment: Segment) -> _Located | None:
        """The store and key of a segment not in this media folder (its site's worker, or the bucket).

        Raises:
            SiteUnavailableError: It is another site's hot segment and that site does not answer.
        """
        if segment.tier is StorageTier.WARM and segment.object_key is not None and self.warm is not None:
            return _Located(self.warm, segment.object_key, "the warm tier")
        if segment.tier is StorageTier.HOT and self.remote is not None:
            store = self.remote.store_for(segment)
            return None if store is None else _Located(store, segment.path, "its site's media folder")
        return None

    def open(self, segment: Segment) -> BinaryIO:
        """A seekable binary reader of the segment's stored bytes, from whichever tier holds it.

        Raises:
            SegmentUnavailableError: Neither tier has it.
            ObjectStoreError: The bucket failed.
        """
        path = self.local_path(segment)
        if path is not None:
            try:
                return path.open("rb")
            except OSError as err:
                log.warning("cannot open %s: %s", path, err)
        found = self._elsewhere(segment)
        if found is not None:
            try:
                reader = ObjectReader(found.store, found.key)
            except ObjectMissingError as err:
                raise SegmentUnavailableError(f"segment {segment.id} is missing from {found.where}") from err
            return io.BufferedReader(reader, READ_AHEAD)
        raise SegmentUnavailableError(f"segment {segment.id} has no readable file")

    def size(self, segment: Segment) -> int:
        """Stored size of the segment in bytes (a ``stat`` request for a warm one).

        Raises:
            SegmentUnavailableError: Neither tier has it.
            ObjectStoreError: The bucket failed.
        """
        path = self.local_path(segment)
        if path is not None:
            return path.stat().st_size
        found = self._elsewhere(segment)
        if found is not None:
            try:
                return found.store.stat(found.key).size
            except ObjectMissingError as err:
                raise SegmentUnavailableError(f"segment {segment.id} is missing from {found.where}") from err
        raise SegmentUnavailableError(f"segment {segment.id} has no readable file")

    def iter_range(self, segment: Segment, start: int, end: int) -> Iterator[bytes]:
        """Stored bytes ``[start, end)`` of the segment, streamed (one ranged GET for a warm one).

        Raises:
            SegmentUnavailableError: Neither tier has it.
            ObjectStoreError: The bucket failed.
        """
        found = self._elsewhere(segment) if self.local_path(segment) is None else None
        if found is not None:
            yield from found.store.iter_range(found.key, start, end)
            return
        with self.open(segment) as handle:
            handle.seek(start)
            left = end - start
            while left > 0:
                block = handle.read(min(left, READ_AHEAD))
                if not block:
                    return
                left -= len(block)
                yield block


@dataclass(frozen=True, slots=True)
class _Located:
    """A segment's bytes outside this media folder: the store and the key they are under."""

    store: ObjectStore
    key: str
    where: str
