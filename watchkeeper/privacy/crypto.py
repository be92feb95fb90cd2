"""Original segments encrypted at rest: AES-256-GCM in 64 KiB chunks, each chunk authenticated on its own.

File layout::

    magic "WKSEG1" + 2 zero bytes | u16 key-id length | key id (UTF-8) | 8-byte file id | u32 chunk size
    | u64 plaintext size | chunk 0 ciphertext + 16-byte tag | chunk 1 ... | last chunk

The nonce of chunk ``i`` is the file id followed by ``i`` (u32), so no nonce repeats under a data key. Each
chunk's associated data is the whole header, ``i`` and a last-chunk flag, so a flipped byte, swapped,
dropped or truncated chunk, or an edited header fails authentication. A reader decrypts only the chunks a
read touches, in memory: a Range request over a large segment never decrypts the rest, and plaintext never
touches the disk.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from watchkeeper.domain import CameraId, WatchkeeperError
from watchkeeper.privacy.keys import DataKey

log = logging.getLogger(__name__)

MAGIC = b"WKSEG1\x00\x00"
CHUNK_SIZE = 64 * 1024
TAG_BYTES = 16
_FIXED = struct.Struct(">IQ")


class SegmentCryptoError(WatchkeeperError):
    """An encrypted segment cannot be written or read (not our format, unreadable)."""

    code = "segment_crypto"


class TamperedSegmentError(SegmentCryptoError):
    """An encrypted segment failed authentication (byte changed, truncated, chunks swapped): never served."""

    code = "segment_tampered"


@dataclass(frozen=True, slots=True)
class SegmentHeader:
    """The parsed header of an encrypted segment."""

    key_id: str
    file_id: bytes
    chunk_size: int
    plaintext_size: int
    raw: bytes

    @property
    def chunks(self) -> int:
        """How many chunks the file holds (an empty segment still has one, empty, chunk)."""
        return max(1, -(-self.plaintext_size // self.chunk_size))

    def chunk_offset(self, index: int) -> int:
        """Byte offset of chunk ``index`` in the file."""
        return len(self.raw) + index * (self.chunk_size + TAG_BYTES)

    @property
    def file_size(self) -> int:
        """The exact size an intact file has."""
        return len(self.raw) + self.plaintext_size + self.chunks * TAG_BYTES


def _nonce(file_id: bytes, index: int) -> bytes:
    return file_id + struct.pack(">I", index)


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">IB", index, 1 if last else 0)


def _build_header(key_id: str, file_id: bytes, chunk_size: int, size: int) -> bytes:
    encoded = key_id.encode()
    return MAGIC + struct.pack(">H", len(encoded)) + encoded + file_id + _FIXED.pack(chunk_size, size)


def is_encrypted(path: Path | BinaryIO) -> bool:
    """True when ``path`` (a file, or an open seekable reader: left at its start) starts with the magic."""
    if not isinstance(path, Path):
        path.seek(0)
        head = path.read(len(MAGIC))
        path.seek(0)
        return head == MAGIC
    try:
        with path.open("rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def encrypt_file(source: Path, target: Path, key: DataKey, chunk_size: int = CHUNK_SIZE) -> int:
    """Encrypt ``source`` into ``target`` (written beside it under a hidden name, then renamed).

    Returns the size of the encrypted file. ``source`` is left for the caller to delete.

    Raises:
        SegmentCryptoError: If either file cannot be read or written.
    """
    temp = target.with_name(f".{target.name}.sealing")
    try:
        size = source.stat().st_size
        header = _build_header(key.id, secrets.token_bytes(8), chunk_size, size)
        aead = AESGCM(key.key)
        chunks = max(1, -(-size // chunk_size))
        with source.open("rb") as reader, temp.open("wb") as writer:
            writer.write(header)
            file_id = header[-(8 + _FIXED.size) : -_FIXED.size]
            for index in range(chunks):
                plain = reader.read(chunk_size)
                writer.write(
                    aead.encrypt(_nonce(file_id, index), plain, _aad(header, index, index == chunks - 1))
                )
            writer.flush()
            os.fsync(writer.fileno())
        os.replace(temp, target)
        return target.stat().st_size
    except OSError as err:
        temp.unlink(missing_ok=True)
        raise SegmentCryptoError(
            f"cannot encrypt {source.name} into {target}: {err.strerror or err}"
        ) from err


def read_header(handle: io.BufferedReader | io.RawIOBase | BinaryIO, path: Path) -> SegmentHeader:
    """Parse the header at the start of an open encrypted segment.

    Raises:
        SegmentCryptoError: If it is not an encrypted segment.
        TamperedSegmentError: If the header is cut short.
    """
    head = handle.read(len(MAGIC) + 2) or b""
    if head[: len(MAGIC)] != MAGIC:
        raise SegmentCryptoError(f"{path} is not an encrypted Watchkeeper segment")
    if len(head) < len(MAGIC) + 2:
        raise TamperedSegmentError(f"encrypted segment {path} is truncated (header)")
    (length,) = struct.unpack(">H", head[len(MAGIC) :])
    rest = handle.read(length + 8 + _FIXED.size) or b""
    if len(rest) != length + 8 + _FIXED.size:
        raise TamperedSegmentError(f"encrypted segment {path} is truncated (header)")
    chunk_size, size = _FIXED.unpack(rest[-_FIXED.size :])
    try:
        key_id = rest[:length].decode()
    except UnicodeDecodeError as err:
        raise TamperedSegmentError(f"encrypted segment {path} has a damaged header") from err
    if chunk_size <= 0:
        raise TamperedSegmentError(f"encrypted segment {path} has a damaged header")
    return SegmentHeader(key_id, rest[length : length + 8], chunk_size, size, head + rest)


def _checked_header(handle: BinaryIO, path: Path, actual_size: int) -> SegmentHeader:
    header = read_header(handle, path)
    if actual_size != header.file_size:
        raise TamperedSegmentError(
            f"encrypted segment {path} is {actual_size} bytes, its header says {header.file_size}"
        )
    return header


KeyLookup = Callable[[str], bytes]
"""Returns the data key of a key id (``SegmentKeys.for_reading``)."""


class DecryptingReader(io.RawIOBase):
    """A seekable, read-only file object over the plaintext of an encrypted segment (PyAV can open it).

    Only the chunks a read touches are decrypted; one decrypted chunk is kept for sequential reads.
    """

    def __init__(self, path: Path | BinaryIO, keys: KeyLookup) -> None:
        """Open ``path`` (or read an open seekable reader, e.g. a warm-tier object) and check header and size.

        Raises:
            SegmentCryptoError: Not an encrypted segment or unreadable.
            TamperedSegmentError: Truncated or extended file.
        """
        super().__init__()
        self._path = path if isinstance(path, Path) else Path(str(getattr(path, "name", "segment")))
        try:
            self._file: BinaryIO = path.open("rb") if isinstance(path, Path) else path
            actual = self._file.seek(0, io.SEEK_END)
            self._file.seek(0)
        except OSError as err:
            raise SegmentCryptoError(f"cannot open {self._path}: {err.strerror or err}") from err
        try:
            self.header = _checked_header(self._file, self._path, actual)
            self._aead = AESGCM(keys(self.header.key_id))
        except BaseException:
            self._file.close()
            raise
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None

    @property
    def size(self) -> int:
        """Plaintext size in bytes."""
        return self.header.plaintext_size

    def readable(self) -> bool:
        """Always true."""
        return True

    def seekable(self) -> bool:
        """Always true."""
        return True

    def tell(self) -> int:
        """Current plaintext position."""
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move in the plaintext."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def chunk(self, index: int) -> bytes:
        """The plaintext of chunk ``index``.

        Raises:
            TamperedSegmentError: If the chunk fails authentication.
        """
        if self._cached is not None and self._cached[0] == index:
            return self._cached[1]
        header = self.header
        last = index == header.chunks - 1
        plain_len = header.plaintext_size - index * header.chunk_size if last else header.chunk_size
        try:
            self._file.seek(header.chunk_offset(index))
            sealed = self._file.read(plain_len + TAG_BYTES)
            plain = self._aead.decrypt(_nonce(header.file_id, index), sealed, _aad(header.raw, index, last))
        except InvalidTag as err:
            log.error("segment %s failed authentication at chunk %s", self._path, index)  # noqa: TRY400
            raise TamperedSegmentError(
                f"encrypted segment {self._path} failed authentication at chunk {index}: it was altered"
            ) from err
        except OSError as err:
            raise SegmentCryptoError(f"cannot read {self._path}: {err.strerror or err}") from err
        self._cached = (index, plain)
        return plain

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Fill ``buffer`` from the current position; 0 at the end."""
        filled = 0
        while filled < len(buffer) and self._pos < self.size:
            index, offset = divmod(self._pos, self.header.chunk_size)
            data = self.chunk(index)[offset : offset + len(buffer) - filled]
            buffer[filled : filled + len(data)] = data
            filled += len(data)
            self._pos += len(data)
        return filled

    def iter_range(self, start: int, end: int) -> Iterator[bytes]:
        """Plaintext bytes ``[start, end)`` chunk by chunk (for streamed HTTP Range responses)."""
        position = max(0, start)
        stop = min(end, self.size)
        while position < stop:
            index, offset = divmod(position, self.header.chunk_size)
            piece = self.chunk(index)[offset : offset + (stop - position)]
            if not piece:
                break
            yield piece
            position += len(piece)

    def verify(self) -> None:
        """Authenticate every chunk (raises ``TamperedSegmentError`` at the first altered one)."""
        for index in range(self.header.chunks):
            self.chunk(index)

    def close(self) -> None:
        """Close the file and drop the cached plaintext."""
        self._cached = None
        if hasattr(self, "_file"):
            self._file.close()
        super().close()


class SegmentSealer:
    """Turns a finished plaintext ``.part`` segment into its encrypted final file and deletes the ``.part``.

    :meth:`finisher` gives the segmenter's per-camera finisher; the plaintext lives only in the ``.part``
    file for as long as encryption takes (a crash leaves it for start-up recovery to quarantine, as before).
    """

    def __init__(self, key_for: Callable[[CameraId, datetime], DataKey]) -> None:
        """``key_for(camera_id, start)``: the data key of a camera's day (``SegmentKeys.for_writing``)."""
        self._key_for = key_for

    def seal(self, camera_id: CameraId, part: Path, final: Path, start: datetime) -> None:
        """Encrypt ``part`` into ``final`` and delete ``part``.

        Raises:
            SegmentCryptoError: If encryption fails (the ``.part`` is deleted too: never left in clear).
        """
        try:
            encrypt_file(part, final, self._key_for(camera_id, start))
        finally:
            part.unlink(missing_ok=True)

    def finisher(self, camera_id: CameraId) -> Callable[[Path, Path, datetime], None]:
        """The segmenter finisher of one camera: ``(part, final, start) -> None``, raising ``OSError``."""

        def finish(part: Path, final: Path, start: datetime) -> None:
            try:
                self.seal(camera_id, part, final, start)
            except WatchkeeperError as err:
                raise OSError(str(err)) from err

        return finish
