"""The incident API over a real app, a real SQLite store and real authentication."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.auth.support import fast_passwords, user_token
from tests.incidents.conftest import Published, add_inventory, build_service
from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.auth.models import RoleGrant
from watchkeeper.bus.local import LocalBus
from watchkeeper.config.incidents import IncidentsConfig
from watchkeeper.config.server import RateLimitConfig, ServerConfig
from watchkeeper.domain import SiteId, utcnow
from watchkeeper.domain.incidents import IncidentQuery
from watchkeeper.incidents.inbound import sign
from watchkeeper.incidents.service import IncidentService
from watchkeeper.storage.factory import open_store

SECRET = "fire-panel-shared-secret-0123456789"
CONFIG = IncidentsConfig.model_validate(
    {
        "teams": [{"id": "night-shift", "name": "Night shift", "members": ["op_a"]}],
        "inbound": [
            {
                "id": "fire-panel",
                "secret": SECRET,
                "default_type": "FIRE_SMOKE",
                "site": "a",
                "allowed_types": ["FIRE_SMOKE"],
            }
        ],
    }
)


class Api:
    """A test client with a bearer token per user."""

    def __init__(self, client: TestClient, tokens: dict[str, str], service: IncidentService) -> None:
        self.client = client
        self.tokens = tokens
        self.service = service

    def as_(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = Path(tmp_path_factory.mktemp("incidents-api"))
    store = open_store(f"sqlite:///{folder / 'wk.db'}")
    add_inventory(store)
    site_a = frozenset({SiteId("a")})
    tokens = {
        "boss": user_token(store, "boss", RoleGrant("admin")),
        "op_a": user_token(store, "op_a", RoleGrant("operator", site_a)),
        "op_a2": user_token(store, "op_a2", RoleGrant("operator", site_a)),
        "viewer_a": user_token(store, "viewer_a", RoleGrant("viewer", site_a)),
        "op_b": user_token(store, "op_b", RoleGrant("operator", frozenset({SiteId("b")}))),
    }
    service = build_service(
        store, utcnow, Published(), CONFIG, key_dir=folder / "keys"
    )  # wall clock: signed timestamps
    context = AppContext(
        store=store,
        bus=LocalBus(),
        media_root=folder,
        statuses=StatusBoard([]),
        hub=LiveHub(),
        passwords=fast_passwords(),
        incidents=service,
    )
    app = create_app(context, ServerConfig(rate_limits=RateLimitConfig(enabled=False)))
    yield Api(TestClient(app), tokens, service)
    store.close()


def _report(api: Api, user: str = "op_a", **body: object) -> dict[str, object]:
    payload = {"type_code": "BREAK_IN", "camera_id": "a1", "note": "window smashed at the back door", **body}
    response = api.client.post("/api/incidents", json=payload, headers=api.as_(user))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_operator_report_and_workflow(api: Api) -> None:
    created = _report(api)
    assert created["state"] == "new"
    assert created["site_id"] == "a"
    assert created["created_by"] == "op_a"
    assert created["allowed_actions"] == ["acknowledge", "start", "resolve"]
    url = f"/api/incidents/{created['id']}"
    ack = api.client.post(f"{url}/actions/acknowledge", json={}, headers=api.as_("op_a"))
    assert ack.status_code == 200
    assert ack.json()["owner"] == "op_a"

    twice = api.client.post(f"{url}/actions/acknowledge", json={}, headers=api.as_("op_a"))
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "invalid_transition"
    assert twice.json()["allowed_actions"] == ["start", "hold", "resolve"]

    no_resolution = api.client.post(f"{url}/actions/resolve", json={"reason": ""}, headers=api.as_("op_a"))
    assert no_resolution.status_code == 422
    assert no_resolution.json()["error"]["code"] == "resolution_required"
    assert api.client.put(f"{url}/sop/0", json={}, headers=api.as_("op_a")).status_code == 200
    skipped = api.client.put(
        f"{url}/sop/1", json={"skip_reason": "no patrol on duty"}, headers=api.as_("op_a")
    )
    assert skipped.status_code == 200
    assert (
        api.client.post(f"{url}/notes", json={"text": "police called"}, headers=api.as_("op_a")).status_code
        == 201
    )
    assign = api.client.put(f"{url}/assignee", json={"team": "night-shift"}, headers=api.as_("op_a"))
    assert assign.json()["assignee_team"] == "night-shift"
    assert (
        api.client.put(f"{url}/priority", json={"priority": "critical"}, headers=api.as_("op_a")).json()[
            "priority"
        ]
        == "critical"
    )
    resolved = api.client.post(
        f"{url}/actions/resolve", json={"reason": "boarded up"}, headers=api.as_("op_a")
    )
    assert resolved.json()["resolution"] == "boarded up"

    detail = api.client.get(url, headers=api.as_("viewer_a")).json()
    assert [t["action"] for t in detail["transitions"]] == ["acknowledge", "resolve"]
    assert all(t["actor"] == "op_a" for t in detail["transitions"])
    assert [s["state"] for s in detail["sop"]][:2] == ["done", "skipped"]
    assert any(n["text"] == "police called" for n in detail["notes"])


def test_closing_a_new_incident_is_a_409_with_the_allowed_actions(api: Api) -> None:
    created = _report(api)
    response = api.client.post(
        f"/api/incidents/{created['id']}/actions/close", json={}, headers=api.as_("op_a")
    )
    assert response.status_code == 409
    assert response.json()["state"] == "new"
    assert "close" not in response.json()["allowed_actions"]


def test_permissions_and_scopes(api: Api) -> None:
    created = _report(api)
    url = f"/api/incidents/{created['id']}"
    assert api.client.get("/api/incidents").status_code == 401
    assert api.client.get(url, headers=api.as_("op_b")).status_code == 404  # other site: as if missing
    assert (
        api.client.post(f"{url}/actions/acknowledge", json={}, headers=api.as_("viewer_a")).status_code == 403
    )
    refused = api.client.post(
        "/api/incidents",
        json={"type_code": "BREAK_IN", "camera_id": "a1", "note": "x"},
        headers=api.as_("viewer_a"),
    )
    assert refused.status_code == 403
    wrong_site = api.client.post(
        "/api/incidents",
        json={"type_code": "BREAK_IN", "camera_id": "a1", "note": "x"},
        headers=api.as_("op_b"),
    )
    assert wrong_site.status_code == 422
    listed_b = api.client.get("/api/incidents", headers=api.as_("op_b")).json()
    assert all(item["site_id"] == "b" for item in listed_b["items"])


def test_listing_filters_and_paginates(api: Api) -> None:
    _report(api, type_code="GATE_OPEN", camera_id="a2")
    _report(api, type_code="GATE_OPEN", camera_id="a2")
    page = api.client.get(
        "/api/incidents",
        params={"type_code": "GATE_OPEN", "camera_id": "a2", "limit": 1},
        headers=api.as_("boss"),
    ).json()
    assert page["total"] >= 2
    assert len(page["items"]) == 1
    states = api.client.get(
        "/api/incidents", params={"state": ["new"], "priority": "medium"}, headers=api.as_("boss")
    )
    assert all(item["state"] == "new" and item["priority"] == "medium" for item in states.json()["items"])
    bad = api.client.get("/api/incidents", params={"state": "exploded"}, headers=api.as_("boss"))
    assert bad.status_code == 422
    types = api.client.get("/api/incident-types", headers=api.as_("viewer_a")).json()
    assert {t["category"] for t in types} == {"safety", "property", "equipment"}


def test_phone_in_number_is_only_shown_to_handlers(api: Api) -> None:
    body = {
        "type_code": "MEDICAL",
        "camera_id": "a1",
        "callback_number": "+44 20 7946 0958",
        "caller_name": "Sam",
        "note": "someone collapsed in the lobby",
    }
    created = api.client.post("/api/incidents/phone-in", json=body, headers=api.as_("op_a"))
    assert created.status_code == 201, created.text
    incident_id = created.json()["id"]
    url = f"/api/incidents/{incident_id}"
    api.client.post(f"{url}/actions/acknowledge", json={}, headers=api.as_("op_a"))
    owner_view = api.client.get(url, headers=api.as_("op_a")).json()["incident"]["caller"]
    assert owner_view == {"callback_number": "+44 20 7946 0958", "name": "Sam", "masked": False}
    other = api.client.get(url, headers=api.as_("op_a2")).json()["incident"]["caller"]
    assert other["masked"]
    assert "7946" not in other["callback_number"]
    assert other["callback_number"].endswith("58")
    assert not api.client.get(url, headers=api.as_("viewer_a")).json()["incident"]["caller"]["name"] == "Sam"
    assert api.client.get(url, headers=api.as_("boss")).json()["incident"]["caller"]["masked"] is False
    listed = api.client.get("/api/incidents", headers=api.as_("op_a2")).text
    assert "7946" not in listed
    bad_number = api.client.post(
        "/api/incidents/phone-in", json={**body, "callback_number": "call me"}, headers=api.as_("op_a")
    )
    assert bad_number.status_code == 422


def _signed(body: bytes, key: str | None, *, secret: str = SECRET, ts: int | None = None) -> dict[str, str]:
    stamp = int(time.time()) if ts is None else ts
    headers = {
        "X-Watchkeeper-Source": "fire-panel",
        "X-Watchkeeper-Timestamp": str(stamp),
        "X-Watchkeeper-Signature": sign(secret, stamp, body),
        "Content-Type": "application/json",
    }
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def test_inbound_webhook_signature_replay_and_idempotency(api: Api) -> None:
    body = json.dumps({"title": "Panel zone 4 smoke", "note": "detector 4-12"}).encode()
    first = api.client.post("/api/alarms/inbound", content=body, headers=_signed(body, "evt-1001"))
    assert first.status_code == 200, first.text
    assert first.json()["created"]
    assert not first.json()["replayed"]
    again = api.client.post("/api/alarms/inbound", content=body, headers=_signed(body, "evt-1001"))
    assert again.json() == {"incident_id": first.json()["incident_id"], "created": False, "replayed": True}
    assert api.service.list(IncidentQuery(type_codes=frozenset({"FIRE_SMOKE"}))).total == 1

    other_body = json.dumps({"title": "different"}).encode()
    reused = api.client.post(
        "/api/alarms/inbound", content=other_body, headers=_signed(other_body, "evt-1001")
    )
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"

    bad = api.client.post(
        "/api/alarms/inbound", content=body, headers=_signed(body, "evt-2", secret="x" * 32)
    )
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "inbound_signature"
    assert SECRET not in bad.text
    stale = api.client.post(
        "/api/alarms/inbound", content=body, headers=_signed(body, "evt-3", ts=int(time.time()) - 3600)
    )
    assert stale.status_code == 401
    assert "replay window" in stale.json()["error"]["message"]
    tampered = _signed(body, "evt-4")
    assert api.client.post("/api/alarms/inbound", content=body + b" ", headers=tampered).status_code == 401
    unknown = {**_signed(body, "evt-5"), "X-Watchkeeper-Source": "nobody"}
    assert api.client.post("/api/alarms/inbound", content=body, headers=unknown).status_code == 401
    assert (
        api.client.post("/api/alarms/inbound", content=body, headers=_signed(body, None)).status_code == 422
    )
    forbidden_type = json.dumps({"type_code": "GATE_OPEN"}).encode()
    assert (
        api.client.post(
            "/api/alarms/inbound", content=forbidden_type, headers=_signed(forbidden_type, "evt-6")
        ).status_code
        == 422
    )
    detail = api.client.get(f"/api/incidents/{first.json()['incident_id']}", headers=api.as_("boss")).json()
    assert detail["incident"]["source"] == "webhook"
    assert detail["incident"]["site_id"] == "a"
