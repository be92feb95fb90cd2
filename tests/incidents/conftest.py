"""Fixtures of the incident tests: stores on both backends, a hand-moved clock, published messages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import TEST_FOOTAGE
from tests.storage.pg import migrated_store
from tests.support.workers import worker_settings
from watchkeeper.bus.messages import IncidentMessage
from watchkeeper.config.incidents import IncidentsConfig
from watchkeeper.domain import Camera, CameraId, CameraStatus, Segment, Site, SiteId
from watchkeeper.events.motion import EventChange
from watchkeeper.incidents.crypto import CallerVault, load_or_create_key
from watchkeeper.incidents.service import IncidentDeps, IncidentService
from watchkeeper.incidents.taxonomy import Taxonomy
from watchkeeper.runtime.camera_worker import CameraWorker, WorkerCallbacks
from watchkeeper.simulator import RtspServer, serve_simulated_cameras
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""A Monday morning."""


class Clock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Published:
    """Collects the incident messages a service publishes."""

    def __init__(self) -> None:
        self.messages: list[IncidentMessage] = []

    def __call__(self, message: IncidentMessage) -> None:
        self.messages.append(message)

    def changes(self, incident_id: str | None = None) -> list[str]:
        return [m.change for m in self.messages if incident_id is None or m.incident_id == incident_id]


def add_inventory(store: Store) -> None:
    """Sites ``a`` and ``b`` with cameras ``a1``, ``a2`` and ``b1``."""
    for site in ("a", "b"):
        store.sites.upsert(Site(SiteId(site), f"Site {site}"))
    for camera, site in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        store.cameras.upsert(Camera(CameraId(camera), f"Camera {camera}", SiteId(site)))


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store with the test inventory, on each backend."""
    with migrated_store(request.param, tmp_path) as opened:
        add_inventory(opened)
        yield opened


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh SQLite store with the test inventory."""
    opened = open_store(f"sqlite:///{tmp_path / 'wk.db'}")
    add_inventory(opened)
    yield opened
    opened.close()


@pytest.fixture
def clock() -> Clock:
    """The tests' clock, at :data:`T0`."""
    return Clock()


@pytest.fixture
def published() -> Published:
    """What the service published."""
    return Published()


def build_service(
    store: Store,
    clock: Callable[[], datetime],
    published: Published,
    config: IncidentsConfig | None = None,
    key_dir: Path | None = None,
) -> IncidentService:
    """A service over ``store`` (with a caller vault when ``key_dir`` is given)."""
    section = config or IncidentsConfig()
    vault = CallerVault(load_or_create_key(key_dir / "incidents.key")) if key_dir is not None else None
    deps = IncidentDeps(
        incidents=store.incidents, cameras=store.cameras, publish=published, clock=clock, vault=vault
    )
    return IncidentService(deps, Taxonomy.from_config(section), section)


@pytest.fixture
def service(store: Store, clock: Clock, published: Published, tmp_path: Path) -> IncidentService:
    """A service over the SQLite store with default config and a caller key."""
    return build_service(store, clock, published, key_dir=tmp_path / "keys")


@pytest.fixture
def own_camera() -> Iterator[RtspServer]:
    """One simulated RTSP camera of the test's own (a test may stall it)."""
    with serve_simulated_cameras(1, TEST_FOOTAGE) as server:
        yield server


def camera_worker(
    url: str,
    folder: Path,
    on_status: Callable[[CameraStatus], None],
    on_segment: Callable[[Segment], None],
) -> CameraWorker:
    """A real camera worker (not started) for camera ``a1`` at ``url`` with the test configuration written
    in ``folder/cfg``; analysis events ignored."""
    settings = worker_settings(folder / "cfg", url, camera="a1")
    return CameraWorker(settings, WorkerCallbacks(on_status, on_segment, _ignore_event))


def _ignore_event(_: EventChange) -> None:
    return None
