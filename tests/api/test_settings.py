"""Settings API: admins edit the configuration file; edits are validated, audited and applied live."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.auth.support import admin_headers, fast_passwords, user_token
from tests.conftest import free_port
from tests.custody.support import custody_services
from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.auth.models import RoleGrant
from watchkeeper.bus.local import LocalBus
from watchkeeper.config.editor import ConfigEditor
from watchkeeper.config.loader import load_config
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.domain import CameraId, WatchkeeperError
from watchkeeper.simulator import RtspServer
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store

CONFIG = """\
sites:
  - id: main
    name: Main site
cameras:
  - id: gate   # hand-written comment
    name: Gate
    site: main
    inputs:
      - url: rtsp://op:pa55word@127.0.0.1:{port}/cam1
        roles: [record, detect]
"""


@dataclass
class Applied:
    """What the runtime hook was asked to apply."""

    calls: list[tuple[WatchkeeperConfig, str | None]] = field(default_factory=list)
    fail: bool = False

    def __call__(self, config: WatchkeeperConfig, camera_id: str | None) -> None:
        self.calls.append((config, camera_id))
        if self.fail:
            raise WatchkeeperError("the detector has no class 'boat'")


@dataclass
class Setup:
    client: TestClient
    store: Store
    path: Path
    admin: dict[str, str]
    operator: dict[str, str]
    applied: Applied


@pytest.fixture
def setup(tmp_path: Path, sim_cameras: RtspServer) -> Iterator[Setup]:
    path = tmp_path / "watchkeeper.yaml"
    path.write_text(CONFIG.format(port=sim_cameras.port))
    store = open_store(f"sqlite:///{tmp_path / 'wk.db'}")
    applied = Applied()
    context = AppContext(
        store=store,
        bus=LocalBus(),
        media_root=tmp_path,
        statuses=StatusBoard([CameraId("gate")]),
        hub=LiveHub(),
        passwords=fast_passwords(),
        custody=custody_services(store, tmp_path),
        config_editor=ConfigEditor(path),
        on_config_change=applied,
    )
    operator = {"Authorization": f"Bearer {user_token(store, 'op', RoleGrant('operator'))}"}
    yield Setup(TestClient(create_app(context)), store, path, admin_headers(store), operator, applied)
    store.close()


def _camera(camera_id: str, port: int, **extra: object) -> dict[str, object]:
    return {
        "id": camera_id,
        "name": f"Camera {camera_id}",
        "site": "main",
        "inputs": [{"url": f"rtsp://127.0.0.1:{port}/cam2", "roles": ["record", "detect"]}],
        **extra,
    }


def test_get_settings_hides_passwords(setup: Setup) -> None:
    response = setup.client.get("/api/settings", headers=setup.admin)
    assert response.status_code == 200
    body = response.json()
    assert body["config_file"] == "watchkeeper.yaml"
    assert body["cameras"][0]["inputs"][0]["url"].startswith("rtsp://op:***@")
    assert "pa55word" not in response.text
    assert body["sites"] == [{"id": "main", "name": "Main site"}]
    assert body["retention"] == {"retain_days": 7, "event_retain_days": 14}


def test_only_config_admins_may_read_or_edit(setup: Setup, sim_cameras: RtspServer) -> None:
    for method, url, payload in (
        ("GET", "/api/settings", None),
        ("POST", "/api/settings/cameras", _camera("yard", sim_cameras.port)),
        ("PUT", "/api/settings/retention", {"retain_days": 1, "event_retain_days": 2}),
        ("POST", "/api/settings/probe", {"url": "rtsp://127.0.0.1:1/x"}),
    ):
        response = setup.client.request(method, url, json=payload, headers=setup.operator)
        assert response.status_code == 403, (url, response.text)
        assert setup.client.request(method, url, json=payload).status_code == 401
    assert "yard" not in setup.path.read_text()


def test_add_camera_writes_audits_and_applies(setup: Setup, sim_cameras: RtspServer) -> None:
    zones = [{"name": "door", "polygon": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.6]]}]
    masks = [{"name": "window", "polygon": [[0.6, 0.0], [1.0, 0.0], [1.0, 0.3]]}]
    body = _camera(
        "yard", sim_cameras.port, zones=zones, privacy_masks=masks, position={"lat": 52, "lon": 0.1}
    )

    response = setup.client.post("/api/settings/cameras", json=body, headers=setup.admin)

    assert response.status_code == 201, response.text
    assert response.json()["applied"] is True
    config = load_config(setup.path)
    yard = config.camera("yard")
    assert yard is not None
    assert yard.zones[0].polygon == [[0.1, 0.1], [0.5, 0.1], [0.5, 0.6]]
    assert yard.privacy_masks[0].name == "window"
    assert "# hand-written comment" in setup.path.read_text()
    assert setup.store.cameras.get(CameraId("yard")) is not None
    [(applied_config, camera_id)] = setup.applied.calls
    assert camera_id == "yard"
    assert applied_config.camera("yard") is not None
    record = setup.store.audit.head()
    assert record is not None
    assert record.action == "config.change"
    assert record.actor == "test-admin"
    details = json.loads(record.details)
    assert details["change"] == "camera yard added"
    assert "+    name: Camera yard" in details["diff"]


def test_invalid_camera_is_422_with_fields_and_not_written(setup: Setup, sim_cameras: RtspServer) -> None:
    before = setup.path.read_text()
    body = _camera("Bad Id", sim_cameras.port, name="", position={"lat": 100, "lon": 0})

    response = setup.client.post("/api/settings/cameras", json=body, headers=setup.admin)

    assert response.status_code == 422
    payload = response.json()
    assert payload["error"]["code"] == "config_rejected"
    fields = {item["field"]: item["message"] for item in payload["fields"]}
    assert set(fields) >= {"id", "name", "position.lat"}
    assert "cameras[1].name" in payload["error"]["message"]
    assert setup.path.read_text() == before
    assert setup.applied.calls == []
    assert setup.store.audit.head() is None


def test_edit_keeps_hidden_password_and_disable(setup: Setup) -> None:
    gate = setup.client.get("/api/settings", headers=setup.admin).json()["cameras"][0]

    renamed = setup.client.put(
        "/api/settings/cameras/gate", json={**gate, "name": "Front gate"}, headers=setup.admin
    )
    disabled = setup.client.put(
        "/api/settings/cameras/gate/enabled", json={"enabled": False}, headers=setup.admin
    )

    assert renamed.status_code == 200, renamed.text
    assert disabled.json()["summary"] == "camera gate disabled"
    camera = load_config(setup.path).camera("gate")
    assert camera is not None
    assert camera.name == "Front gate"
    assert not camera.enabled
    assert "pa55word" in camera.inputs[0].url.get_secret_value()
    stored = setup.store.cameras.get(CameraId("gate"))
    assert stored is not None
    assert not stored.enabled
    assert [call[1] for call in setup.applied.calls] == ["gate", "gate"]


def test_unknown_camera_is_404(setup: Setup) -> None:
    response = setup.client.put(
        "/api/settings/cameras/ghost/enabled", json={"enabled": True}, headers=setup.admin
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_written_but_not_applied_says_why(setup: Setup) -> None:
    setup.applied.fail = True
    response = setup.client.put(
        "/api/settings/retention", json={"retain_days": 3, "event_retain_days": 9}, headers=setup.admin
    )
    assert response.status_code == 200
    assert response.json()["applied"] is False
    assert "no class 'boat'" in response.json()["detail"]
    assert load_config(setup.path).recording.retain_days == 3


def test_sites_and_retention_errors(setup: Setup) -> None:
    created = setup.client.post(
        "/api/settings/sites", json={"id": "depot", "name": "Depot"}, headers=setup.admin
    )
    bad = setup.client.put(
        "/api/settings/retention", json={"retain_days": -2, "event_retain_days": 9}, headers=setup.admin
    )
    assert created.status_code == 201
    assert {site.id for site in setup.store.sites.list()} >= {"main", "depot"}
    assert bad.status_code == 422
    assert bad.json()["fields"][0]["field"] == "retain_days"


def test_probe_reports_codec_or_error(setup: Setup, sim_cameras: RtspServer) -> None:
    stored = setup.client.get("/api/settings", headers=setup.admin).json()["cameras"][0]["inputs"][0]["url"]

    good = setup.client.post(
        "/api/settings/probe", json={"url": stored, "camera_id": "gate"}, headers=setup.admin
    )
    closed = f"rtsp://user:hunter2@127.0.0.1:{free_port()}/nothing"
    bad = setup.client.post("/api/settings/probe", json={"url": closed}, headers=setup.admin)

    assert good.status_code == 200
    assert good.json()["ok"] is True, good.json()
    assert good.json()["codec"] == "h264"
    assert (good.json()["width"], good.json()["height"]) == (320, 180)
    assert bad.status_code == 200
    assert bad.json()["ok"] is False
    assert bad.json()["detail"]
    assert "hunter2" not in bad.text


@pytest.mark.parametrize("url", ["http://[", "0" * 1500])
def test_probe_of_an_unusable_url_is_a_clear_answer_not_a_server_error(setup: Setup, url: str) -> None:
    response = setup.client.post("/api/settings/probe", json={"url": url}, headers=setup.admin)

    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert response.json()["detail"]


@pytest.mark.parametrize("url", [r"rtsp://cam\u0000/x", r"rtsp://cam/\ud800"])  # JSON escapes
def test_probe_refuses_control_characters_and_broken_text_with_a_422(setup: Setup, url: str) -> None:
    body = '{"url": "' + url + '"}'
    response = setup.client.post(
        "/api/settings/probe", content=body, headers={**setup.admin, "Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert "url" in response.text


def test_without_editor_settings_are_503(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'wk.db'}")
    context = AppContext(
        store=store, bus=LocalBus(), media_root=tmp_path, statuses=StatusBoard([]), hub=LiveHub()
    )
    response = TestClient(create_app(context)).get("/api/settings", headers=admin_headers(store))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "settings_unavailable"
    store.close()
