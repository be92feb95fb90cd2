"""Over HTTP: four-eyes grants, originals served only under a grant (decrypted, Range), tamper refusal,
every route of the OpenAPI schema tried for originals without, with expired and with revoked grants."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.auth.support import TEST_PASSWORD, fast_passwords, user_token
from tests.custody.conftest import CAM, T0, Clock, index_segments, record_segments
from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.audit.log import AuditLog
from watchkeeper.audit.verify import all_records, verify_chain
from watchkeeper.auth.models import RoleGrant
from watchkeeper.bus.local import LocalBus
from watchkeeper.config.server import RateLimitConfig, ServerConfig
from watchkeeper.domain import Camera, Segment, Site, SiteId
from watchkeeper.privacy.crypto import DecryptingReader, SegmentSealer
from watchkeeper.privacy.exports import ExportDeps, ExportService
from watchkeeper.privacy.grants import GrantService
from watchkeeper.privacy.keys import SegmentKeys
from watchkeeper.privacy.services import CustodyServices
from watchkeeper.privacy.signing import ExportSigner
from watchkeeper.storage.protocols import Store


@dataclass
class Api:
    client: TestClient
    store: Store
    clock: Clock
    segments: list[Segment]
    plain: dict[int, bytes]
    media: Path
    headers: dict[str, dict[str, str]]


@pytest.fixture
def api(tmp_path: Path, store: Store, keys: SegmentKeys, clip_file: Path, clock: Clock) -> Iterator[Api]:
    media = tmp_path / "media"
    store.sites.upsert(Site(SiteId("s"), "Site"))
    store.cameras.upsert(Camera(CAM, "Cam 1", SiteId("s")))
    segments = index_segments(store, record_segments(clip_file, media, SegmentSealer(keys.for_writing)))
    plain = {}
    for segment in segments:
        with DecryptingReader(media / segment.path, keys.for_reading) as reader:
            plain[segment.id or 0] = reader.read()
    audit = AuditLog(store.audit, clock)
    grants = GrantService(store.grants, audit, clock=clock)
    deps = ExportDeps(
        store, audit, grants, ExportSigner.open(tmp_path / "sign.key"), media, tmp_path / "exp", keys
    )
    custody = CustodyServices(audit, grants, keys, ExportService(deps), 7, 14)
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
    return Api(TestClient(app), store, clock, segments, plain, media, headers)


def _request(api: Api, who: str = "ivy") -> dict[str, Any]:
    body = {
        "camera_ids": [CAM],
        "start": (T0 - timedelta(minutes=1)).isoformat(),
        "end": (T0 + timedelta(minutes=5)).isoformat(),
        "reason": "incident 42: theft at the loading dock",
    }
    response = api.client.post("/api/grants", json=body, headers=api.headers[who])
    assert response.status_code == 201, response.text
    return dict(response.json())


def _approve(api: Api, grant_id: str, who: str = "abe") -> Any:
    return api.client.post(f"/api/grants/{grant_id}/approve", json={"note": "ok"}, headers=api.headers[who])


def test_four_eyes_over_http(api: Api) -> None:
    assert api.client.post("/api/grants", json={}, headers=api.headers["vic"]).status_code == 403
    grant = _request(api, "ada")
    refused = _approve(api, grant["id"], "ada")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "grant_refused"
    assert _approve(api, grant["id"], "ivy").status_code == 403  # investigators cannot approve at all
    approved = _approve(api, grant["id"], "abe")
    assert approved.status_code == 200
    assert approved.json()["state"] == "approved"
    mine = api.client.get("/api/grants", headers=api.headers["vic"]).json()
    assert mine == []  # a viewer sees neither others' requests nor decides them


def test_originals_only_under_a_grant_decrypted_and_ranged(api: Api) -> None:
    segment = api.segments[0]
    url = f"/api/recordings/{segment.id}/media"
    denied = api.client.get(url, headers=api.headers["ivy"])
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "unmask_grant_required"
    grant = _request(api)
    _approve(api, grant["id"])
    full = api.client.get(url, headers=api.headers["ivy"])
    assert full.status_code == 200
    assert full.content == api.plain[segment.id or 0]
    part = api.client.get(url, headers={**api.headers["ivy"], "Range": "bytes=100-70000"})
    assert part.status_code == 206
    assert part.content == api.plain[segment.id or 0][100:70001]
    mp4 = api.client.get(f"/api/recordings/{segment.id}/media.mp4", headers=api.headers["ivy"])
    assert mp4.content == api.plain[segment.id or 0]
    assert api.client.get(url, headers=api.headers["abe"]).status_code == 403  # the approver has no grant
    api.client.post(f"/api/grants/{grant['id']}/revoke", headers=api.headers["abe"])
    assert api.client.get(url, headers=api.headers["ivy"]).status_code == 403
    actions = [r.action for r in all_records(api.store.audit)]
    assert {"unmask.request", "unmask.approve", "unmask.use", "unmask.revoke", "unmask.denied"} <= set(
        actions
    )
    assert verify_chain(all_records(api.store.audit)).ok


def test_a_tampered_original_is_refused_and_reported(api: Api) -> None:
    segment = api.segments[0]
    _approve(api, _request(api)["id"])
    path = api.media / segment.path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    response = api.client.get(f"/api/recordings/{segment.id}/media", headers=api.headers["ivy"])
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "segment_tampered"
    assert api.plain[segment.id or 0][:2000] not in response.content
    assert any(r.action == "segment.tampered" for r in all_records(api.store.audit))


def _fill(path: str, operation: dict[str, Any], segment: Segment) -> tuple[str, dict[str, str]]:
    values = {
        "camera_id": CAM,
        "segment_id": str(segment.id),
        "event_id": "ev",
        "grant_id": "grt-x",
        "export_id": "exp-x",
        "start": (T0 - timedelta(seconds=1)).isoformat(),
        "end": (T0 + timedelta(seconds=30)).isoformat(),
    }
    query = {}
    for parameter in operation.get("parameters", []):
        name = parameter["name"]
        if parameter["in"] == "path":
            path = path.replace("{" + name + "}", values.get(name, "x"))
        elif name in values or name == "rendition":
            query[name] = "original" if name == "rendition" else values[name]
    return path, query


def _export_body() -> dict[str, Any]:
    return {
        "camera_ids": [CAM],
        "start": (T0 - timedelta(seconds=1)).isoformat(),
        "end": (T0 + timedelta(seconds=30)).isoformat(),
        "reason": "try originals",
        "rendition": "original",
    }


def _leaks(api: Api, who: str) -> list[str]:
    """Every operation of the schema, asked for originals; returns those answering with original footage."""
    leaks = []
    schema = api.client.app.openapi()  # type: ignore[attr-defined]
    segment = api.segments[0]
    sample = api.plain[segment.id or 0][200:4000]
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            url, query = _fill(path, operation, segment)
            body = _export_body() if operation["operationId"] == "createExport" else None
            response = api.client.request(
                method.upper(), url, params=query, json=body, headers=api.headers[who]
            )
            kind = response.headers.get("content-type", "")
            if response.status_code < 300 and (sample in response.content or kind.startswith("video")):
                leaks.append(f"{method.upper()} {path}")
    return leaks


def test_the_leak_probe_sees_originals_under_a_valid_grant(api: Api) -> None:
    _approve(api, _request(api)["id"])
    leaks = _leaks(api, "ivy")
    assert "GET /api/recordings/{segment_id}/media" in leaks
    assert "GET /api/recordings/{segment_id}/media.mp4" in leaks


@pytest.mark.parametrize("state", ["none", "pending", "expired", "revoked", "other-range"])
def test_no_route_serves_originals_without_a_valid_grant(api: Api, state: str) -> None:
    if state != "none":
        grant = _request(api)
        if state != "pending":
            _approve(api, grant["id"])
        if state == "expired":
            api.clock.now = T0 + timedelta(hours=25)
        if state == "revoked":
            api.client.post(f"/api/grants/{grant['id']}/revoke", headers=api.headers["ivy"])
        if state == "other-range":
            stored = api.store.grants.get(grant["id"])
            assert stored is not None
            moved = replace(stored, start=T0 + timedelta(days=1), end=T0 + timedelta(days=2))
            api.store.grants.save(moved, "approved")
    assert _leaks(api, "ivy") == []
    assert _leaks(api, "ada") == []


def test_retention_is_shown(api: Api) -> None:
    body = api.client.get("/api/retention", headers=api.headers["vic"]).json()
    assert body == {"retain_days": 7, "event_retain_days": 14, "encrypt_originals": True}
    assert body["retain_days"] <= 30


def test_decrypted_reader_feeds_pyav(api: Api, keys: SegmentKeys) -> None:
    import av

    path = api.media / api.segments[0].path
    with io.BufferedReader(DecryptingReader(path, keys.for_reading)) as handle, av.open(handle) as container:
        assert container.streams.video[0].codec_context.name == "h264"


def test_logins_and_user_changes_are_audited(api: Api) -> None:
    bad = api.client.post("/api/auth/login", json={"username": "ivy", "password": "wrong password!"})
    assert bad.status_code == 401
    good = api.client.post("/api/auth/login", json={"username": "ivy", "password": TEST_PASSWORD})
    assert good.status_code == 200
    api.client.cookies.clear()
    made = api.client.post(
        "/api/users",
        json={"username": "newbie", "password": TEST_PASSWORD, "roles": []},
        headers=api.headers["ada"],
    )
    assert made.status_code == 201
    records = {(r.action, r.actor, r.target) for r in all_records(api.store.audit)}
    assert ("login.failed", "ivy", "user:ivy") in records
    assert ("login", "ivy", "user:ivy") in records
    assert ("user.change", "ada", "user:newbie") in records
    assert ("live.snapshot", "vic", f"camera:{CAM}") not in records
    api.client.get(f"/api/cameras/{CAM}/latest.jpg", headers=api.headers["vic"])
    assert any(r.action == "live.snapshot" for r in all_records(api.store.audit))
