"""Fixtures of the chain-of-custody tests: a store, real segments (encrypted by the real segmenter)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import TEST_FOOTAGE
from watchkeeper.audit.log import AuditLog
from watchkeeper.domain import CameraId, Segment
from watchkeeper.privacy.crypto import SegmentSealer
from watchkeeper.privacy.grants import GrantService, GrantSettings
from watchkeeper.privacy.keys import FileKeyProvider, SegmentKeys
from watchkeeper.recorder.segmenter import Segmenter, SegmenterSettings
from watchkeeper.simulator import write_mp4
from watchkeeper.sources import PyAVSource, ReceivedPacket, SourceSpec
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store

if TYPE_CHECKING:
    from tests.custody.http import Api

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CAM = CameraId("cam1")


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="session")
def clip_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mp4(replace(TEST_FOOTAGE, duration_s=3.0), tmp_path_factory.mktemp("clip") / "clip.mp4")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'wk.db'}")
    yield opened
    opened.close()


@pytest.fixture
def keys(tmp_path: Path, store: Store) -> SegmentKeys:
    provider = FileKeyProvider.open(tmp_path / "keys" / "master.key", encrypted_data_exists=False)
    return SegmentKeys(provider, store.data_keys)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def audit(store: Store, clock: Clock) -> AuditLog:
    return AuditLog(store.audit, clock)


@pytest.fixture
def grants(store: Store, audit: AuditLog, clock: Clock) -> GrantService:
    return GrantService(store.grants, audit, clock=clock)


@pytest.fixture
def api(tmp_path: Path, store: Store, keys: SegmentKeys, clip_file: Path, clock: Clock) -> Api:
    """The API over a store holding the encrypted originals of ``clip_file`` (break glass on)."""
    from tests.custody.http import make_api

    return make_api(tmp_path, store, keys, clip_file, clock, GrantSettings(break_glass=True))


def record_segments(
    clip: Path, root: Path, sealer: SegmentSealer | None, camera: CameraId = CAM
) -> list[Segment]:
    """Record ``clip`` into ~1 s segments (encrypted when ``sealer`` is given)."""
    segments: list[Segment] = []
    finisher = sealer.finisher(camera) if sealer is not None else None
    segmenter = Segmenter(SegmenterSettings(root, camera, 1.0, finisher), segments.append)
    opened = PyAVSource(SourceSpec(url=str(clip), redacted_url="clip.mp4")).open()
    counter = itertools.count()
    with opened:
        segmenter.begin(opened)
        for packet in opened._container.demux(opened.video):
            if packet.size == 0:
                continue
            at = T0 + timedelta(seconds=next(counter) / 10)
            segmenter.write(ReceivedPacket(packet=packet, received_at=at))
        segmenter.finish()
    return segments


def index_segments(
    store: Store, segments: list[Segment], prefix: str = "", protected: bool = False
) -> list[Segment]:
    """Add recorded segments to the index (paths prefixed, rendition set)."""
    from watchkeeper.domain import Rendition

    rendition = Rendition.PROTECTED if protected else Rendition.ORIGINAL
    return [store.segments.add(replace(s, path=prefix + s.path, rendition=rendition)) for s in segments]
