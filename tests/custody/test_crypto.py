"""Originals encrypted at rest: chunked AES-GCM, streamed range reads, tamper detection, the sealer."""

from __future__ import annotations

import io
import os
import secrets
from pathlib import Path

import av
import pytest

from tests.custody.conftest import CAM, T0, record_segments
from watchkeeper.privacy.crypto import (
    CHUNK_SIZE,
    DecryptingReader,
    SegmentCryptoError,
    SegmentSealer,
    TamperedSegmentError,
    encrypt_file,
    is_encrypted,
)
from watchkeeper.privacy.keys import DataKey, SegmentKeys

KEY = DataKey("cam1/2026-11-25", secrets.token_bytes(32))


def _lookup(_key_id: str) -> bytes:
    return KEY.key  # even a header pointing at another (existing) key must fail authentication


@pytest.fixture
def plain(tmp_path: Path) -> bytes:
    data = secrets.token_bytes(3 * CHUNK_SIZE + 1234)
    (tmp_path / "plain.bin").write_bytes(data)
    return data


@pytest.fixture
def sealed(tmp_path: Path, plain: bytes) -> Path:
    target = tmp_path / "sealed.mp4"
    encrypt_file(tmp_path / "plain.bin", target, KEY)
    return target


def test_round_trip_and_no_plaintext_on_disk(sealed: Path, plain: bytes) -> None:
    assert is_encrypted(sealed)
    assert plain[:4096] not in sealed.read_bytes()
    with DecryptingReader(sealed, _lookup) as reader:
        assert reader.size == len(plain)
        assert reader.read() == plain


@pytest.mark.parametrize(
    ("start", "end"), [(0, 10), (CHUNK_SIZE - 5, CHUNK_SIZE + 5), (100, 3 * CHUNK_SIZE + 1234)]
)
def test_range_reads_decrypt_only_what_they_need(sealed: Path, plain: bytes, start: int, end: int) -> None:
    with DecryptingReader(sealed, _lookup) as reader:
        assert b"".join(reader.iter_range(start, end)) == plain[start:end]
        reader.seek(start)
        assert reader.read(end - start) == plain[start:end]


def test_empty_file_round_trips(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    encrypt_file(tmp_path / "empty", tmp_path / "empty.enc", KEY)
    with DecryptingReader(tmp_path / "empty.enc", _lookup) as reader:
        assert reader.read() == b""


@pytest.mark.parametrize("offset", [20, 200, CHUNK_SIZE + 100, -3])
def test_one_flipped_byte_fails_authentication(sealed: Path, offset: int) -> None:
    data = bytearray(sealed.read_bytes())
    data[offset] ^= 0x01
    sealed.write_bytes(bytes(data))
    with pytest.raises(TamperedSegmentError), DecryptingReader(sealed, _lookup) as reader:
        reader.verify()


def test_truncated_or_extended_file_is_refused(sealed: Path) -> None:
    data = sealed.read_bytes()
    sealed.write_bytes(data[:-1])
    with pytest.raises(TamperedSegmentError, match="header says"):
        DecryptingReader(sealed, _lookup)
    sealed.write_bytes(data + b"x")
    with pytest.raises(TamperedSegmentError):
        DecryptingReader(sealed, _lookup)


def test_swapped_chunks_fail(sealed: Path) -> None:
    with DecryptingReader(sealed, _lookup) as reader:
        first, second = reader.header.chunk_offset(0), reader.header.chunk_offset(1)
        size = second - first
    data = bytearray(sealed.read_bytes())
    data[first:second], data[second : second + size] = data[second : second + size], data[first:second]
    sealed.write_bytes(bytes(data))
    with pytest.raises(TamperedSegmentError), DecryptingReader(sealed, _lookup) as reader:
        reader.verify()


def test_a_plain_file_is_not_taken_for_an_encrypted_one(tmp_path: Path, plain: bytes) -> None:
    assert not is_encrypted(tmp_path / "plain.bin")
    with pytest.raises(SegmentCryptoError, match="not an encrypted"):
        DecryptingReader(tmp_path / "plain.bin", _lookup)


def test_the_recorder_writes_encrypted_segments_and_deletes_the_part(
    tmp_path: Path, clip_file: Path, keys: SegmentKeys
) -> None:
    root = tmp_path / "media"
    segments = record_segments(clip_file, root, SegmentSealer(keys.for_writing))
    assert len(segments) >= 2
    assert not list(root.rglob("*.part"))
    assert not list(root.rglob("*.sealing"))
    for segment in segments:
        path = root / segment.path
        assert is_encrypted(path)
        assert segment.size_bytes == path.stat().st_size
        with pytest.raises(av.error.FFmpegError):
            av.open(str(path)).close()
        # PyAV decodes the plaintext straight from the decrypting reader (in memory).
        with (
            io.BufferedReader(DecryptingReader(path, keys.for_reading)) as handle,
            av.open(handle) as container,
        ):
            frames = sum(1 for _ in container.decode(video=0))
        assert frames > 0
    stored = keys.for_writing(CAM, T0)
    assert stored.id == f"{CAM}/2026-11-25"


def test_a_failed_seal_leaves_no_plaintext(tmp_path: Path) -> None:
    part = tmp_path / ".seg.mp4.part"
    part.write_bytes(b"secret pixels")

    def broken(_camera: str, _at: object) -> DataKey:
        raise SegmentCryptoError("no key")

    finisher = SegmentSealer(broken).finisher(CAM)  # type: ignore[arg-type]
    with pytest.raises(OSError, match="no key"):
        finisher(part, tmp_path / "seg.mp4", T0)
    assert not part.exists()
    assert not (tmp_path / "seg.mp4").exists()
    assert os.listdir(tmp_path) == []
