"""An API over a real SQLite store holding recorded footage: in-process client and a live HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.auth.support import admin_headers, fast_passwords
from tests.conftest import serve_in_thread
from tests.recorder.playback_footage import T0, record, source_clip
from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.bus.local import LocalBus
from watchkeeper.domain import Camera, CameraId, Event, EventKind, Rendition, Segment, Site, SiteId, utcnow
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store

GAP_START = T0 + timedelta(seconds=6)
"""cam1 is recorded over [T0, T0+6 s) and [T0+20 s, T0+26 s): a 14 s gap in between."""
SECOND_RUN = T0 + timedelta(seconds=20)
LIVE_AGE_S = 40
"""cam3 was recorded over the 6 s starting this long before the tests began (for open, live ranges)."""


@dataclass(frozen=True)
class PlaybackSetup:
    """A store with cam1 (recorded at T0), cam2 (never recorded) and cam3 (recorded recently)."""

    store: Store
    context: AppContext
    segments: list[Segment]
    headers: dict[str, str]
    """``Authorization`` of a global admin."""


@pytest.fixture(scope="package")
def playback_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlaybackSetup]:
    folder = tmp_path_factory.mktemp("playback")
    media_root = folder / "media"
    store = open_store(f"sqlite:///{folder / 'wk.db'}")
    store.sites.upsert(Site(SiteId("s"), "Site"))
    for camera in ("cam1", "cam2", "cam3"):
        store.cameras.upsert(Camera(CameraId(camera), f"Camera {camera}", SiteId("s")))
    clip = source_clip(folder)
    recorded = record(clip, media_root, "cam1", T0) + record(clip, media_root, "cam1", SECOND_RUN)
    recorded += record(clip, media_root, "cam3", utcnow() - timedelta(seconds=LIVE_AGE_S))
    # what viewers play is the protected rendition; the playback mechanics are the same for both
    segments = [store.segments.add(replace(segment, rendition=Rendition.PROTECTED)) for segment in recorded]
    store.events.upsert(
        Event(
            "ev-1",
            CameraId("cam1"),
            EventKind.MOTION,
            T0 + timedelta(seconds=2),
            T0 + timedelta(seconds=4),
            0.8,
        )
    )
    context = AppContext(
        store=store,
        bus=LocalBus(),
        media_root=media_root,
        statuses=StatusBoard([CameraId("cam1"), CameraId("cam2"), CameraId("cam3")]),
        hub=LiveHub(),
        passwords=fast_passwords(),
    )
    yield PlaybackSetup(store=store, context=context, segments=segments, headers=admin_headers(store))
    store.close()


@pytest.fixture(scope="package")
def client(playback_setup: PlaybackSetup) -> TestClient:
    # No lifespan: these tests need no bus followers (the bus is never started).
    return TestClient(create_app(playback_setup.context), headers=playback_setup.headers)


@pytest.fixture(scope="package")
def api_server(playback_setup: PlaybackSetup) -> Iterator[str]:
    """The same API served over real HTTP by uvicorn in a thread; yields its base URL."""
    with serve_in_thread(create_app(playback_setup.context), "uvicorn-playback") as base_url:
        yield base_url
