"""A cut over midnight: a worker seals the new day's originals with a key it makes, wrapped, and the key
reaches PostgreSQL through the outbox ahead of the segments sealed with it.

The new day comes from the segments' start times (the recorder's clock), injected here: no waiting for
midnight. PostgreSQL is real, behind a TCP hop the test closes (:class:`TcpLink`).
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.runtime.test_outbox import FAST, Bus, linked_stores
from watchkeeper.domain import CameraId, Rendition, Segment
from watchkeeper.domain.custody import DataKeyRecord
from watchkeeper.privacy.crypto import DecryptingReader, SegmentSealer, read_header
from watchkeeper.privacy.keys import FileKeyProvider, KeyOutbox, KeyUnavailableError, SegmentKeys
from watchkeeper.runtime.outbox import OutboxHooks, StoreOutbox
from watchkeeper.runtime.outbox_journal import EntryKind, OutboxJournal

CAM = CameraId("gate-north")
EVE = datetime(2026, 12, 6, 23, 59, 54, tzinfo=UTC)
"""The last segment of a day (the store answers)."""
NEW_DAY = datetime(2026, 12, 7, 0, 0, 2, tzinfo=UTC)
"""The first segment of the next day (the link is down)."""


def _seal(sealer: SegmentSealer, media: Path, name: str, start: datetime) -> tuple[Path, bytes]:
    """Write a plaintext ``.part`` segment and seal it as the recorder does; returns file and plaintext."""
    plain = secrets.token_bytes(200_000)
    part = media / f".{name}.part"
    part.write_bytes(plain)
    final = media / name
    sealer.seal(CAM, part, final, start)
    return final, plain


def _key_id(path: Path) -> str:
    with path.open("rb") as handle:
        return read_header(handle, path).key_id


def _segment(path: Path, media: Path, start: datetime) -> Segment:
    return Segment(
        camera_id=CAM,
        start=start,
        end=start + timedelta(seconds=2),
        path=str(path.relative_to(media)),
        size_bytes=path.stat().st_size,
        video_codec="h264",
        width=640,
        height=360,
        keyframes=1,
        rendition=Rendition.ORIGINAL,
    )


def _raw_journal(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in folder.glob("w1.sqlite*") if path.is_file())


def test_a_cut_over_midnight_seals_with_a_key_made_here_that_reaches_the_store_first(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    key_file = tmp_path / "keys" / "master.key"
    with linked_stores() as (direct, linked, link):
        keys = SegmentKeys(FileKeyProvider.open(key_file, encrypted_data_exists=False), linked.data_keys)
        journal = OutboxJournal(tmp_path / "outbox" / "w1.sqlite")
        outbox = StoreOutbox(
            journal, linked.fences, Bus().publish, FAST, OutboxHooks(data_keys=linked.data_keys)
        )
        keys.outbox = KeyOutbox(outbox.keep_data_key, lambda: not outbox.store_reachable)
        sealer = SegmentSealer(keys.for_writing)
        outbox.start()
        try:
            eve, _ = _seal(sealer, media, "eve.mp4", EVE)
            assert _key_id(eve) == f"{CAM}/2026-12-06"  # made by the store

            link.close()
            sealed, plain = _seal(sealer, media, "new-day.mp4", NEW_DAY)
            outbox.add_segment(_segment(sealed, media, NEW_DAY), 3)
            later, _ = _seal(sealer, media, "new-day-2.mp4", NEW_DAY + timedelta(seconds=2))
            key_id = _key_id(sealed)
            assert key_id.startswith(f"{CAM}/2026-12-07/")
            assert _key_id(later) == key_id  # one key for the rest of the day
            assert sorted(path.name for path in media.iterdir()) == [
                "eve.mp4",
                "new-day-2.mp4",
                "new-day.mp4",
            ]
            assert [entry.kind for entry in journal.head()] == [EntryKind.DATA_KEY, EntryKind.SEGMENT]
            plaintext_key = keys.for_reading(key_id)
            raw = _raw_journal(journal.path.parent)
            assert plaintext_key not in raw
            assert base64.b64encode(plaintext_key) not in raw
            # Meanwhile another worker, still reaching the store, made that day's key there.
            other = DataKeyRecord(f"{CAM}/2026-12-07", CAM, NEW_DAY.date(), "mk-other", b"x" * 60, NEW_DAY)
            direct.data_keys.add(other)

            link.reopen()
            wait_for(lambda: outbox.snapshot().depth == 0, 20, "the outbox to deliver the key and the row")
            assert outbox.snapshot().dropped == 0
        finally:
            outbox.close()

        assert direct.data_keys.get(key_id) is not None
        assert direct.data_keys.get(other.id) is not None  # both keys of the day are kept
        assert [item.path for item in direct.segments.list(CAM, limit=10)] == ["new-day.mp4"]
        # A fresh process (nothing cached) reads the segment with the key from the store.
        fresh = SegmentKeys(FileKeyProvider.open(key_file, encrypted_data_exists=True), direct.data_keys)
        reader = DecryptingReader(sealed, fresh.for_reading)
        try:
            assert reader.read() == plain
        finally:
            reader.close()


def test_a_key_that_cannot_be_queued_is_not_used_and_leaves_no_plaintext(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    with linked_stores() as (_direct, linked, link):
        keys = SegmentKeys(
            FileKeyProvider.open(tmp_path / "master.key", encrypted_data_exists=False), linked.data_keys
        )
        journal = OutboxJournal(tmp_path / "outbox" / "w1.sqlite")
        outbox = StoreOutbox(
            journal, linked.fences, Bus().publish, FAST, OutboxHooks(data_keys=linked.data_keys)
        )
        keys.outbox = KeyOutbox(outbox.keep_data_key, lambda: True)
        journal.close()  # the disk failed: nothing can be queued
        link.close()
        sealer = SegmentSealer(keys.for_writing)
        part = media / ".seg.mp4.part"
        part.write_bytes(b"plaintext video")
        with pytest.raises(KeyUnavailableError, match="cannot be kept while the store is away"):
            sealer.seal(CAM, part, media / "seg.mp4", NEW_DAY)
        assert list(media.iterdir()) == []  # neither the plaintext nor a file sealed with a lost key
