"""Over HTTP: the ``Api`` fixture (a real store, encrypted segments, four users) and grant helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.auth.support import fast_passwords, user_token
from tests.custody.conftest import CAM, T0, Clock, index_segments, record_segments
from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.audit.log import AuditLog
from watchkeeper.auth.models import RoleGrant
from watchkeeper.bus.local import LocalBus
from watchkeeper.config.server import RateLimitConfig, ServerConfig
from watchkeeper.domain import Camera, Segment, Site, SiteId
from watchkeeper.privacy.crypto import DecryptingReader, SegmentSealer
from watchkeeper.privacy.exports import ExportDeps, ExportService
from watchkeeper.privacy.grants import GrantService, GrantSettings
from watchkeeper.privacy.keys import SegmentKeys
from watchkeeper.privacy.live import LiveOriginals
from watchkeeper.privacy.services import CustodyServices
from watchkeeper.privacy.signing import ExportSigner
from watchkeeper.storage.protocols import Store


@dataclass
class Api:
    """The API under test and what the tests need to check it."""

    client: TestClient
    store: Store
    clock: Clock
    segments: list[Segment]
    plain: dict[int, bytes]
    media: Path
    headers: dict[str, dict[str, str]]
    context: AppContext
    app: FastAPI


def make_api(
    tmp_path: Path, store: Store, keys: SegmentKeys, clip_file: Path, clock: Clock, settings: GrantSettings
) -> Api:
    """A store with one camera and its encrypted originals, custody services and four users' tokens."""
    media = tmp_path / "media"
    store.sites.upsert(Site(SiteId("s"), "Site"))
    store.cameras.upsert(Camera(CAM, "Cam 1", SiteId("s")))
    segments = index_segments(store, record_segments(clip_file, media, SegmentSealer(keys.for_writing)))
    plain = {}
    for segment in segments:
        with DecryptingReader(media / segment.path, keys.for_reading) as reader:
            plain[segment.id or 0] = reader.read()
    audit = AuditLog(store.audit, clock)
    grants = GrantService(store.grants, audit, settings, clock=clock)
    deps = ExportDeps(
        store, audit, grants, ExportSigner.open(tmp_path / "sign.key"), media, tmp_path / "exp", keys
    )
    custody = CustodyServices(audit, grants, keys, ExportService(deps), 7, 14, LiveOriginals())
    context = AppContext(
        store=store,
        bus=LocalBus(),
        media_root=media,
        statuses=StatusBoard([CAM]),
        hub=LiveHub(),
        passwords=fast_passwords(),
        custody=custody,
    )
    headers = {
        name: {"Authorization": f"Bearer {user_token(store, name, RoleGrant(role))}"}
        for name, role in (("ivy", "investigator"), ("abe", "approver"), ("vic", "viewer"), ("ada", "admin"))
    }
    app = create_app(context, ServerConfig(rate_limits=RateLimitConfig(enabled=False)))
    return Api(TestClient(app), store, clock, segments, plain, media, headers, context, app)


def request_grant(api: Api, who: str = "ivy") -> dict[str, Any]:
    """``who`` asks for originals of the test camera around ``T0``."""
    body = {
        "camera_ids": [CAM],
        "start": (T0 - timedelta(minutes=1)).isoformat(),
        "end": (T0 + timedelta(minutes=5)).isoformat(),
        "reason": "incident 42: theft at the loading dock",
    }
    response = api.client.post("/api/grants", json=body, headers=api.headers[who])
    assert response.status_code == 201, response.text
    return dict(response.json())


def approve_grant(api: Api, grant_id: str, who: str = "abe") -> Any:
    """``who`` approves the request ``grant_id``."""
    return api.client.post(f"/api/grants/{grant_id}/approve", json={"note": "ok"}, headers=api.headers[who])
