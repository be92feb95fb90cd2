"""A running live stream ends when its viewer's credentials stop being valid (re-checked while streaming)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

import watchkeeper.api.routes.live_stream as live_stream
from tests.auth.support import fast_passwords, service, user_token
from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.auth.models import RoleGrant
from watchkeeper.bus.local import LocalBus
from watchkeeper.domain import Camera, CameraId, Site, SiteId
from watchkeeper.privacy.live_feed import LiveFeed
from watchkeeper.storage.factory import open_store

CAM = CameraId("cam1")


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, LiveFeed, object]]:
    monkeypatch.setattr(live_stream, "RECHECK_S", 0.3)
    store = open_store(f"sqlite:///{tmp_path / 'wk.db'}")
    store.sites.upsert(Site(SiteId("s"), "Site"))
    store.cameras.upsert(Camera(CAM, "Camera 1", SiteId("s")))
    feed = LiveFeed()
    context = AppContext(
        store=store,
        bus=LocalBus(),
        media_root=tmp_path / "media",
        statuses=StatusBoard([CAM]),
        hub=LiveHub(),
        passwords=fast_passwords(),
        live_feed=feed,
    )
    yield TestClient(create_app(context)), feed, store
    store.close()


def test_mjpeg_stream_ends_when_the_user_is_deleted(setup: tuple[TestClient, LiveFeed, object]) -> None:
    client, feed, store = setup
    token = user_token(store, "watcher", RoleGrant("viewer"))  # type: ignore[arg-type]
    stop = threading.Event()

    def camera() -> None:
        frame = np.full((36, 64, 3), 90, dtype=np.uint8)
        while not stop.is_set():
            feed.publish(CAM, frame, datetime.now(UTC))
            time.sleep(0.05)

    def revoke() -> None:
        time.sleep(0.8)
        service(store).delete_user("watcher")  # type: ignore[arg-type]

    threads = [threading.Thread(target=camera, daemon=True), threading.Thread(target=revoke, daemon=True)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    try:
        response = client.get("/api/cameras/cam1/live.mjpeg", headers={"Authorization": f"Bearer {token}"})
    finally:
        stop.set()
    assert response.status_code == 200
    assert response.content.count(b"Content-Type: image/jpeg") >= 3  # it streamed before the revocation
    assert time.monotonic() - started > 0.8  # it ended on its own, after the revocation
    assert feed.viewers(CAM) == 0
