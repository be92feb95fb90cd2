"""Over HTTP: four-eyes grants, originals served only under a grant (decrypted, Range), tamper refusal,
every route of the OpenAPI schema tried for originals without, with expired and with revoked grants."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from tests.auth.support import TEST_PASSWORD
from tests.custody.conftest import CAM, T0
from tests.custody.http import Api, approve_grant, request_grant
from watchkeeper.audit.verify import all_records, verify_chain
from watchkeeper.domain import Segment
from watchkeeper.privacy.crypto import DecryptingReader
from watchkeeper.privacy.keys import SegmentKeys


def test_four_eyes_over_http(api: Api) -> None:
    assert api.client.post("/api/grants", json={}, headers=api.headers["vic"]).status_code == 403
    grant = request_grant(api, "ada")
    refused = approve_grant(api, grant["id"], "ada")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "grant_refused"
    assert approve_grant(api, grant["id"], "ivy").status_code == 403  # investigators cannot approve at all
    approved = approve_grant(api, grant["id"], "abe")
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
    grant = request_grant(api)
    approve_grant(api, grant["id"])
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
    approve_grant(api, request_grant(api)["id"])
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


ORIGINAL_ROUTES = {
    "getCameraPlaylist",
    "getRecordingMedia",
    "getRecordingMediaMp4",
    "getCameraClip",
    "createExport",
    "downloadExport",
    "getLiveOriginalFrame",
    "streamLiveOriginal",
}
"""Operations known to serve originals; the schema must mark each (``x-serves-originals``)."""


def _playlist_leaks(api: Api, who: str, playlist: str, sample: bytes) -> bool:
    """True when a segment a playlist points at serves original bytes."""
    urls = {line for line in playlist.splitlines() if line.startswith("/api/")}
    for url in urls:
        response = api.client.get(url, headers=api.headers[who])
        if response.status_code < 300 and sample in response.content:
            return True
    return False


def _probe(api: Api, who: str) -> tuple[list[str], dict[str, int]]:
    """Every operation of the schema, asked for originals.

    Returns the operations answering with original footage (bytes of an original, a video, or a playlist
    whose segments serve original bytes), and the status of every operation marked as serving originals.
    """
    leaks, marked = [], {}
    schema = api.client.app.openapi()  # type: ignore[attr-defined]
    segment = api.segments[0]
    sample = api.plain[segment.id or 0][200:4000]
    export = _original_export(api)
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            url, query = _fill(path, operation, segment)
            url = url.replace("exp-x", export)
            body = _export_body() if operation["operationId"] == "createExport" else None
            response = api.client.request(
                method.upper(), url, params=query, json=body, headers=api.headers[who]
            )
            kind = response.headers.get("content-type", "")
            ok = response.status_code < 300
            if ok and (sample in response.content or kind.startswith(("video", "image", "multipart"))):
                leaks.append(f"{method.upper()} {path}")
            elif ok and "mpegurl" in kind and _playlist_leaks(api, who, response.text, sample):
                leaks.append(f"{method.upper()} {path}")
            if operation.get("x-serves-originals"):
                marked[operation["operationId"]] = response.status_code
    return leaks, marked


def _original_export(api: Api) -> str:
    """An export of originals made by ada under a grant of her own that is then revoked."""
    grant = request_grant(api, "ada")
    approve_grant(api, grant["id"])
    made = api.client.post("/api/exports", json=_export_body(), headers=api.headers["ada"])
    assert made.status_code == 201, made.text
    revoked = api.client.post(f"/api/grants/{grant['id']}/revoke", headers=api.headers["ada"])
    assert revoked.status_code == 200
    return str(made.json()["id"])


def _leaks(api: Api, who: str) -> list[str]:
    return _probe(api, who)[0]


def test_the_leak_probe_sees_originals_under_a_valid_grant(api: Api) -> None:
    approve_grant(api, request_grant(api)["id"])
    leaks = _leaks(api, "ivy")
    assert "GET /api/recordings/{segment_id}/media" in leaks
    assert "GET /api/recordings/{segment_id}/media.mp4" in leaks
    assert "GET /api/cameras/{camera_id}/hls.m3u8" in leaks
    assert "GET /api/cameras/{camera_id}/clip.mp4" in leaks


@pytest.mark.parametrize("state", ["none", "pending", "expired", "revoked", "other-range"])
def test_no_route_serves_originals_without_a_valid_grant(api: Api, state: str) -> None:
    if state != "none":
        grant = request_grant(api)
        if state != "pending":
            approve_grant(api, grant["id"])
        if state == "expired":
            api.clock.now = T0 + timedelta(hours=25)
        if state == "revoked":
            api.client.post(f"/api/grants/{grant['id']}/revoke", headers=api.headers["ivy"])
        if state == "other-range":
            stored = api.store.grants.get(grant["id"])
            assert stored is not None
            moved = replace(stored, start=T0 + timedelta(days=1), end=T0 + timedelta(days=2))
            api.store.grants.save(moved, "approved")
    for who in ("ivy", "ada"):
        leaks, marked = _probe(api, who)
        assert leaks == []
        assert set(marked) == ORIGINAL_ROUTES  # every original-serving route is marked and was tried
        assert all(status in (403, 409) for status in marked.values()), marked


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
