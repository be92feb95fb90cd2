"""Fixtures of the integration tests: stores on both backends, incident messages, a webhook receiver."""

from __future__ import annotations

import http.server
import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.storage.pg import migrated_store
from watchkeeper.bus.messages import IncidentChange, IncidentMessage
from watchkeeper.domain import CameraId, SiteId
from watchkeeper.domain.incidents import AlarmSource, IncidentCategory, IncidentState, Priority
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store

T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store on SQLite and on a fresh PostgreSQL database."""
    with migrated_store(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store."""
    opened = open_store(f"sqlite:///{tmp_path / 'wk.db'}")
    try:
        yield opened
    finally:
        opened.close()


_ids = itertools.count(1)


def incident_message(
    incident_id: str | None = None,
    revision: int = 1,
    change: IncidentChange = "created",
    site: str | None = "site-a",
    cameras: tuple[str, ...] = ("a1",),
    state: IncidentState = IncidentState.NEW,
) -> IncidentMessage:
    """An incident announcement as the incident service publishes it."""
    return IncidentMessage(
        change=change,
        incident_id=incident_id or f"inc-{next(_ids):06d}",
        revision=revision,
        type_code="FIRE_SMOKE",
        category=IncidentCategory.SAFETY,
        title="Smoke in the loading bay",
        state=state,
        priority=Priority.HIGH,
        source=AlarmSource.ANALYTICS,
        site_id=SiteId(site) if site is not None else None,
        camera_ids=tuple(CameraId(camera) for camera in cameras),
        alarm_count=1,
        created_at=T0,
        updated_at=T0,
    )


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A real HTTP server that records POSTs and answers the statuses queued in ``script`` (then 200)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> int:
        with self.lock:
            return self.script.pop(0) if self.script else 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on a free loopback port."""
    state: list[Receiver] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            target = state[0]
            with target.lock:
                target.requests.append(Received(self.path, dict(self.headers.items()), body))
            status = target.answer()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook?token=s3cr3t-token"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state[0]
    finally:
        server.shutdown()
        server.server_close()
