"""Every operation of the live OpenAPI schema, called by every role (scoped to site A) and anonymously.

The expected table below is the authorization policy in one place. An operation missing from it (a new
route) fails the test with what to add. Camera-scoped operations are also called on a site-B camera: a
user scoped to site A must get exactly the 404 of a camera (event, recording) that does not exist, and no
answer to a site-A user may contain a site-B camera's id or name.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.auth.support import TEST_PASSWORD, fast_passwords, service
from tests.custody.support import custody_services
from tests.incidents.support import incident_service, seed_incident
from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.api.policy import route_policies
from watchkeeper.auth.models import RoleGrant
from watchkeeper.bus.local import LocalBus
from watchkeeper.config.editor import ConfigEditor
from watchkeeper.config.server import RateLimitConfig, ServerConfig
from watchkeeper.domain import Camera, CameraId, Event, EventKind, Segment, Site, SiteId
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store

T0 = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
SITE_A, SITE_B = SiteId("site-a"), SiteId("site-b")
B_NAME = "Vault B camera"
ROLES = ("viewer", "operator", "investigator", "approver", "admin")
ANON = "anonymous"
GLOBAL_ADMIN = "global-admin"
CALLERS = (ANON, *ROLES, GLOBAL_ADMIN)

PUBLIC = "public"
ANY_USER = "any-user"
GLOBAL = "global-only"
_VIEWERS = frozenset(ROLES)
_PLAYERS = frozenset(ROLES)
_EXPORTERS = frozenset({"investigator", "admin"})
_INCIDENT_HANDLERS = frozenset({"operator", "investigator", "admin"})

EXPECTED: dict[str, str | frozenset[str]] = {
    # operation id: PUBLIC, ANY_USER (own account), GLOBAL (a global grant's permission: only the global
    # admin), or the roles (scoped to site A) allowed on a site-A camera.
    "health": PUBLIC,
    "login": PUBLIC,
    "logout": ANY_USER,
    "getMe": ANY_USER,
    "changePassword": ANY_USER,
    "listTokens": ANY_USER,
    "createToken": ANY_USER,
    "revokeToken": ANY_USER,
    "listSessions": ANY_USER,
    "revokeSession": ANY_USER,
    "listUsers": GLOBAL,
    "createUser": GLOBAL,
    "getUser": GLOBAL,
    "updateUser": GLOBAL,
    "deleteUser": GLOBAL,
    "listCameras": _VIEWERS,
    "getCamera": _VIEWERS,
    "listEvents": _VIEWERS,
    "getEvent": _VIEWERS,
    "listRecordings": _PLAYERS,
    "getRecordingMedia": _PLAYERS,
    "getCameraPlaylist": _PLAYERS,
    "getRecordingMediaMp4": _PLAYERS,
    "getCameraClip": _EXPORTERS,
    "getCameraTimeline": _PLAYERS,
    "getCameraSnapshot": _VIEWERS,
    # Live originals: any live viewer of the camera passes the policy; the grant check then refuses (403
    # unmask_grant_required) without break glass or a grant covering now.
    "getLiveOriginalFrame": _VIEWERS,
    "streamLiveOriginal": _VIEWERS,
    "getCameraLiveMjpeg": _VIEWERS,
    "postCameraLiveWebRtc": _VIEWERS,
    "getLiveWebRtc": ANY_USER,
    "searchEvents": _VIEWERS,
    "getEventSnapshot": _VIEWERS,
    "listWebhookDeliveries": GLOBAL,
    "retryWebhookDelivery": GLOBAL,
    "listIncidentTypes": _VIEWERS,
    "listIncidents": _VIEWERS,
    "getIncident": _VIEWERS,
    "reportIncident": _INCIDENT_HANDLERS,
    "phoneInIncident": _INCIDENT_HANDLERS,
    "incidentAction": _INCIDENT_HANDLERS,
    "assignIncident": _INCIDENT_HANDLERS,
    "setIncidentPriority": _INCIDENT_HANDLERS,
    "addIncidentNote": _INCIDENT_HANDLERS,
    "attachIncidentEvents": _INCIDENT_HANDLERS,
    "setIncidentSopStep": _INCIDENT_HANDLERS,
    "inboundAlarm": PUBLIC,
    # Chain of custody: unmask grants (four eyes), break glass, exports, the retention notice.
    "requestUnmask": frozenset({"investigator", "admin"}),
    "listUnmaskGrants": ANY_USER,
    "getUnmaskGrant": ANY_USER,
    "approveUnmask": frozenset({"approver", "admin"}),
    "refuseUnmask": frozenset({"approver", "admin"}),
    "revokeUnmask": ANY_USER,
    "breakGlass": frozenset({"investigator", "admin"}),
    "getRetention": ANY_USER,
    # The console's map: settings and the offline grid tiles (no camera data in them).
    "getMapSettings": ANY_USER,
    "getMapTile": ANY_USER,
    "createExport": _EXPORTERS,
    "listExports": _EXPORTERS,
    "getExport": _EXPORTERS,
    "downloadExport": _EXPORTERS,
    "releaseExport": frozenset({"operator", "investigator", "admin"}),
    # Settings: editing the configuration file (config.manage, a global permission).
    "getSettings": GLOBAL,
    "createCameraSettings": GLOBAL,
    "updateCameraSettings": GLOBAL,
    "setCameraEnabled": GLOBAL,
    "createSiteSettings": GLOBAL,
    "updateSiteSettings": GLOBAL,
    "setRetentionSettings": GLOBAL,
    "probeStream": GLOBAL,
    # Floor plans: listed and served to viewers of the site (filtered inside); edited with config.manage.
    "listFloorPlans": _VIEWERS,
    "getFloorPlanImage": _VIEWERS,
    "uploadFloorPlan": GLOBAL,
    "placeFloorPlan": GLOBAL,
    "deleteFloorPlan": GLOBAL,
}

_unique = itertools.count()


def _bodies() -> dict[str, Callable[[], dict[str, Any]]]:
    return {
        "login": lambda: {"username": "matrix-login", "password": TEST_PASSWORD},
        "changePassword": lambda: {"current_password": "not the password", "new_password": "whatever-long-1"},
        "createToken": lambda: {"name": "matrix"},
        "createUser": lambda: {"username": f"made{next(_unique)}", "password": TEST_PASSWORD, "roles": []},
        "updateUser": lambda: {"display_name": "Renamed"},
        "requestUnmask": lambda: {
            "camera_ids": ["a1"],
            "start": T0.isoformat(),
            "end": (T0 + timedelta(seconds=10)).isoformat(),
            "reason": "matrix test request",
        },
        "approveUnmask": lambda: {"note": ""},
        "setCameraEnabled": lambda: {"enabled": True},
        "setRetentionSettings": lambda: {"retain_days": 7, "event_retain_days": 14},
        "probeStream": lambda: {"url": "rtsp://127.0.0.1:9/none"},
        "refuseUnmask": lambda: {"note": ""},
        "breakGlass": lambda: {"camera_ids": ["a1"], "reason": "matrix test emergency"},
        "createExport": lambda: {
            "camera_ids": ["a1"],
            "start": T0.isoformat(),
            "end": (T0 + timedelta(seconds=10)).isoformat(),
            "reason": "matrix test export",
        },
    }


@dataclass(frozen=True)
class Seeded:
    """The app, its store, one bearer token per caller and the ids of the seeded objects per site."""

    client: TestClient
    store: Store
    headers: dict[str, dict[str, str]]
    targets: dict[str, dict[str, str]]


def _settings_file(folder: Path) -> Path:
    path = folder / "watchkeeper.yaml"
    path.write_text("sites:\n  - id: site-a\n    name: Site A\n")
    return path


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    folder = Path(tmp_path_factory.mktemp("matrix"))
    store = open_store(f"sqlite:///{folder / 'wk.db'}")
    store.sites.upsert(Site(SITE_A, "Site A"))
    store.sites.upsert(Site(SITE_B, "Site B"))
    store.cameras.upsert(Camera(CameraId("a1"), "Lobby A camera", SITE_A))
    store.cameras.upsert(Camera(CameraId("b1"), B_NAME, SITE_B))
    segments = {}
    for camera in ("a1", "b1"):
        path = f"{camera}/seg.mp4"
        (folder / camera).mkdir()
        (folder / path).write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(100))
        segment = Segment(CameraId(camera), T0, T0 + timedelta(seconds=10), path, 124, "h264", 64, 64, 1)
        segments[camera] = store.segments.add(segment)
        store.events.upsert(
            Event(f"ev-{camera}", CameraId(camera), EventKind.MOTION, T0, None, 0.9, "motion")
        )
    auth = service(store)
    auth.create_user("matrix-login", TEST_PASSWORD, [])
    headers: dict[str, dict[str, str]] = {ANON: {}}
    for caller in (*ROLES, GLOBAL_ADMIN):
        grant = RoleGrant("admin") if caller == GLOBAL_ADMIN else RoleGrant(caller, frozenset({SITE_A}))
        user = auth.create_user(f"m-{caller}", TEST_PASSWORD, [grant])
        headers[caller] = {"Authorization": f"Bearer {auth.issue_token(auth.principal_of(user), 'm').secret}"}
    context = AppContext(
        store=store,
        bus=LocalBus(),
        media_root=folder,
        statuses=StatusBoard([CameraId("a1"), CameraId("b1")]),
        hub=LiveHub(),
        passwords=fast_passwords(),
        incidents=incident_service(store, T0),
        custody=custody_services(store, folder),
        config_editor=ConfigEditor(_settings_file(folder)),
    )
    assert context.incidents is not None
    targets = {
        site: {
            "camera_id": camera,
            "event_id": f"ev-{camera}",
            "segment_id": str(segments[camera].id),
            "incident_id": seed_incident(context.incidents, camera),
        }
        for site, camera in (("a", "a1"), ("b", "b1"))
    }
    targets["missing"] = {
        "camera_id": "zz9",
        "event_id": "ev-zz9",
        "segment_id": "987654",
        "incident_id": "inc-0000000000000000000f",
    }
    # Rate limits off: this test calls the expensive endpoints far more often than a person would.
    server = ServerConfig(rate_limits=RateLimitConfig(enabled=False))
    # No lifespan: these tests need no bus followers (the bus is never started).
    yield Seeded(TestClient(create_app(context, server)), store, headers, targets)
    store.close()


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    schema = client.app.openapi()  # type: ignore[attr-defined]
    return [
        (method.upper(), path, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]


def _fill(path: str, operation: dict[str, Any], target: dict[str, str]) -> tuple[str, dict[str, str]]:
    values = {
        **target,
        "token_id": "no-such-token",
        "session_id": "no-such-session",
        "delivery_id": "987654",
        "username": "matrix-login",
        "action": "acknowledge",
        "index": "0",
        "z": "1",
        "x": "1",
        "y": "0",
        "grant_id": "grt-none",
        "export_id": "exp-none",
        "site_id": "site-a",
        "floor_id": "ground",
        "name": "Ground",
        "south": "52.0",
        "west": "0.1",
        "north": "52.001",
        "east": "0.102",
        "start": T0.isoformat(),
        "end": (T0 + timedelta(seconds=20)).isoformat(),
    }
    query = {}
    for parameter in operation.get("parameters", []):
        name, where = parameter["name"], parameter["in"]
        if where == "path":
            if name not in values:
                pytest.fail(f"the matrix test cannot fill path parameter {name!r} of {path}: add it to _fill")
            path = path.replace("{" + name + "}", values[name])
        elif where == "query" and (parameter.get("required") or name == "camera_id"):
            if name not in values:
                pytest.fail(
                    f"the matrix test cannot fill query parameter {name!r} of {path}: add it to _fill"
                )
            query[name] = values[name]
    return path, query


def _call(
    seeded: Seeded, caller: str, method: str, path: str, operation: dict[str, Any], target: str
) -> httpx.Response:
    url, query = _fill(path, operation, seeded.targets[target])
    body = _bodies().get(operation["operationId"])
    response = seeded.client.request(
        method, url, params=query, json=body() if body else None, headers=seeded.headers[caller]
    )
    seeded.client.cookies.clear()  # the login operation sets a session cookie: callers use only their token
    return response


def _code(response: httpx.Response) -> str | None:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


def _allowed(policy: str | frozenset[str], caller: str) -> bool:
    if policy == PUBLIC:
        return True
    if caller == ANON:
        return False
    if policy == ANY_USER or caller == GLOBAL_ADMIN:
        return True
    if policy == GLOBAL:
        return False
    return isinstance(policy, frozenset) and caller in policy


def _camera_scoped(operation: dict[str, Any]) -> bool:
    names = {
        p["name"] for p in operation.get("parameters", []) if p["in"] == "path" or p["name"] == "camera_id"
    }
    return bool(names & {"camera_id", "event_id", "segment_id", "incident_id"})


def test_every_route_declares_a_policy(seeded: Seeded) -> None:
    policies = route_policies(seeded.client.app)  # type: ignore[arg-type]
    undeclared = [f"{p.method} {p.path}" for p in policies.values() if not p.declared]
    assert not undeclared, (
        f"routes without a policy: {undeclared}; add `Depends(Require(Permission.X, camera=...))`, "
        "`Depends(Authenticated())` or `Depends(Public())` (see watchkeeper/api/policy.py)"
    )
    by_path = {policy.path: policy for policy in policies.values()}
    assert by_path["/metrics"].requires[0].permission.value == "system.metrics"


def test_every_operation_has_an_expected_row(seeded: Seeded) -> None:
    ids = {operation["operationId"] for _, _, operation in _operations(seeded.client)}
    missing = sorted(ids - EXPECTED.keys())
    assert not missing, (
        f"operations {missing} have no row in EXPECTED of {__file__}: add one saying who may call them "
        "(PUBLIC, ANY_USER, GLOBAL or the set of roles), and give the route a policy"
    )
    assert not EXPECTED.keys() - ids, (
        f"EXPECTED names operations that no longer exist: {EXPECTED.keys() - ids}"
    )


@pytest.mark.parametrize("caller", CALLERS)
def test_the_allow_deny_table_holds_for_every_operation(seeded: Seeded, caller: str) -> None:
    wrong = []
    for method, path, operation in _operations(seeded.client):
        op_id = operation["operationId"]
        if op_id not in EXPECTED:
            continue  # reported by test_every_operation_has_an_expected_row
        response = _call(seeded, caller, method, path, operation, "a")
        assert response.status_code < 500, f"{caller} {method} {path}: {response.status_code} {response.text}"
        code = _code(response)
        allowed = _allowed(EXPECTED[op_id], caller)
        if allowed and code in ("unauthenticated", "forbidden"):
            wrong.append(f"{op_id}: {caller} should be allowed, got {response.status_code} {code}")
        if not allowed:
            want = "unauthenticated" if caller == ANON else "forbidden"
            status = 401 if caller == ANON else 403
            if (response.status_code, code) != (status, want):
                wrong.append(
                    f"{op_id}: {caller} should get {status} {want}, got {response.status_code} {code}"
                )
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("caller", [*ROLES, GLOBAL_ADMIN])
def test_site_b_objects_are_indistinguishable_from_missing_ones(seeded: Seeded, caller: str) -> None:
    for method, path, operation in _operations(seeded.client):
        if not _camera_scoped(operation) or method != "GET":
            continue
        on_b = _call(seeded, caller, method, path, operation, "b")
        if caller == GLOBAL_ADMIN:
            assert _code(on_b) not in ("unauthenticated", "forbidden", "not_found"), (path, on_b.text)
            continue
        missing = _call(seeded, caller, method, path, operation, "missing")
        assert on_b.status_code == missing.status_code == 404, (caller, path, on_b.text, missing.text)
        normalised = on_b.text
        # Longest ids first: a camera id such as "b1" can occur inside a random incident id.
        for key, value in sorted(seeded.targets["b"].items(), key=lambda item: -len(item[1])):
            pattern = rf"(?<![\w-]){re.escape(value)}(?![\w-])"
            normalised = re.sub(pattern, seeded.targets["missing"][key], normalised)
        assert normalised == missing.text, (caller, path)


@pytest.mark.parametrize("caller", ROLES)
def test_site_a_users_never_learn_site_b_cameras(seeded: Seeded, caller: str) -> None:
    seen = []
    for method, path, operation in _operations(seeded.client):
        if method != "GET":
            continue
        on_a = _call(seeded, caller, method, path, operation, "a").content
        on_b = _call(seeded, caller, method, path, operation, "b").content
        seen.append(on_b.replace(b"b1", b""))  # asked for by id: the answer may echo the id, not more
        seen.append(on_a)
    unfiltered = seeded.client.get("/api/events", headers=seeded.headers[caller]).json()
    assert {event["camera_id"] for event in unfiltered} == {"a1"}
    cameras = seeded.client.get("/api/cameras", headers=seeded.headers[caller]).json()
    assert [camera["id"] for camera in cameras] == ["a1"]
    leaks = [blob for blob in seen if B_NAME.encode() in blob or b'"b1"' in blob or b"ev-b1" in blob]
    assert not leaks, leaks[:3]


def test_the_global_admin_sees_both_sites(seeded: Seeded) -> None:
    cameras = seeded.client.get("/api/cameras", headers=seeded.headers[GLOBAL_ADMIN]).json()
    assert [camera["id"] for camera in cameras] == ["a1", "b1"]
    events = seeded.client.get("/api/events", headers=seeded.headers[GLOBAL_ADMIN]).json()
    assert json.dumps(events).count("ev-") == 2


@pytest.mark.parametrize(
    ("caller", "status"), [(ANON, 401), ("viewer", 403), ("admin", 403), (GLOBAL_ADMIN, 404)]
)
def test_metrics_need_a_global_grant(seeded: Seeded, caller: str, status: int) -> None:
    # 404 for the global admin: this context has no metrics renderer (the endpoint is off).
    assert seeded.client.get("/metrics", headers=seeded.headers[caller]).status_code == status
