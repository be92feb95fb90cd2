"""Fixtures of the storage tier tests: one real Swift (s3api) per session, a fresh bucket per test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.custody.conftest import clip_file, keys  # noqa: F401 - fixtures shared with the custody tests
from tests.support.swift import ACCESS_KEY, REGION, SECRET_KEY, SwiftServer, require_swift, start_swift
from watchkeeper.domain import Camera, CameraId, Segment, Site, SiteId, utcnow
from watchkeeper.media.s3 import S3ObjectStore, S3Settings
from watchkeeper.recorder.tiering import TieringManager, TieringPolicy
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store

CAMERA = CameraId("cam-1")
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftServer]:
    require_swift()
    server = start_swift(tmp_path_factory.mktemp("swift"))
    try:
        yield server
    finally:
        server.close()


def s3_settings(swift: SwiftServer, bucket: str, secret: str = SECRET_KEY) -> S3Settings:
    return S3Settings(
        bucket=bucket,
        access_key_id=ACCESS_KEY,
        secret_access_key=secret,
        endpoint_url=swift.endpoint,
        region=REGION,
        timeout_s=5.0,
    )


@pytest.fixture
def bucket(swift: SwiftServer) -> S3ObjectStore:
    store = S3ObjectStore(s3_settings(swift, f"wk-{uuid.uuid4().hex[:12]}"))
    store.ensure_bucket()
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'index.db'}")
    opened.sites.upsert(Site(SiteId("site"), "Site"))
    opened.cameras.upsert(Camera(CAMERA, "Camera", SiteId("site")))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def media_root(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    return root


def add_segment(store: Store, media_root: Path, data: bytes, minute: int = 0) -> Segment:
    """Write ``data`` as a segment file of ``CAMERA`` and index it (ended long ago)."""
    start = T0 + timedelta(minutes=minute)
    relative = f"{CAMERA}/{start:%Y/%m/%d/%H}/{start:%M%S}.mp4"
    path = media_root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return store.segments.add(
        Segment(
            camera_id=CAMERA,
            start=start,
            end=start + timedelta(seconds=10),
            path=relative,
            size_bytes=len(data),
            video_codec="h264",
            width=640,
            height=360,
            keyframes=1,
        )
    )


def manager(
    store: Store,
    media_root: Path,
    warm: S3ObjectStore,
    clock: Callable[[], datetime] = utcnow,
    **policy: float,
) -> TieringManager:
    """A tiering manager moving everything that ended a minute before ``clock()``, with fast retries."""
    settings = {"warm_after_s": 60.0, "retry_attempts": 3, "retry_base_s": 0.05, "retry_max_s": 0.2, **policy}
    return TieringManager(store, media_root, warm, TieringPolicy(**settings), clock)  # type: ignore[arg-type]
