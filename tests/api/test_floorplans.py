"""Floor plans API: admins upload a PNG/JPEG per floor; viewers of the site list and fetch them."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.auth.support import admin_headers, fast_passwords, user_token
from tests.custody.support import custody_services
from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.auth.models import RoleGrant
from watchkeeper.bus.local import LocalBus
from watchkeeper.config.editor import ConfigEditor
from watchkeeper.config.loader import load_config
from watchkeeper.config.server import ServerConfig
from watchkeeper.domain import SiteId
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store

CONFIG = """\
sites:
  - id: main   # the head office
    name: Main site
  - id: depot
    name: Depot
cameras:
  - id: hall
    name: Hall
    site: main
    inputs:
      - url: rtsp://127.0.0.1:9/hall
        roles: [record, detect]
"""
PLACE = {"name": "Ground", "south": 52.0, "west": 0.1, "north": 52.001, "east": 0.102}
URL = "/api/settings/sites/{site}/floors/{floor}/image"


@dataclass
class Setup:
    client: TestClient
    store: Store
    path: Path
    media: Path
    admin: dict[str, str]
    depot_viewer: dict[str, str]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    path = tmp_path / "watchkeeper.yaml"
    path.write_text(CONFIG)
    store = open_store(f"sqlite:///{tmp_path / 'wk.db'}")
    for site in load_config(path).sites:
        store.sites.upsert(site.to_domain())
    context = AppContext(
        store=store,
        bus=LocalBus(),
        media_root=tmp_path / "media",
        statuses=StatusBoard([]),
        hub=LiveHub(),
        passwords=fast_passwords(),
        custody=custody_services(store, tmp_path),
        config_editor=ConfigEditor(path),
    )
    viewer = user_token(store, "dv", RoleGrant("viewer", sites=frozenset({SiteId("depot")})))
    client = TestClient(create_app(context))
    yield Setup(
        client, store, path, tmp_path / "media", admin_headers(store), {"Authorization": f"Bearer {viewer}"}
    )
    store.close()


def _image(kind: str = "PNG", size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 220, 240)).save(buffer, format=kind)
    return buffer.getvalue()


def _upload(setup: Setup, data: bytes, site: str = "main", floor: str = "ground", **place: object) -> object:
    return setup.client.put(
        URL.format(site=site, floor=floor),
        content=data,
        params={**PLACE, **place},
        headers={**setup.admin, "Content-Type": "image/png"},
    )


def test_upload_writes_the_config_and_serves_the_image(setup: Setup) -> None:
    data = _image()
    response = _upload(setup, data)
    assert response.status_code == 200, response.text
    assert response.json()["summary"] == "floor ground of site main uploaded"
    text = setup.path.read_text()
    assert "# the head office" in text
    floor = load_config(setup.path).sites[0].floors[0]
    assert (floor.id, floor.name, floor.south, floor.east) == ("ground", "Ground", 52.0, 0.102)
    assert (setup.media / "floorplans" / floor.image).read_bytes() == data

    listed = setup.client.get("/api/floorplans", headers=setup.admin).json()
    assert [(item["site_id"], item["id"], item["north"]) for item in listed] == [("main", "ground", 52.001)]
    image = setup.client.get(listed[0]["image_url"], headers=setup.admin)
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content == data


def test_jpeg_replaces_and_placement_moves(setup: Setup) -> None:
    assert _upload(setup, _image()).status_code == 200
    assert _upload(setup, _image("JPEG"), name="Ground floor").status_code == 200
    floors = load_config(setup.path).sites[0].floors
    assert [(floor.name, floor.image.endswith(".jpg")) for floor in floors] == [("Ground floor", True)]
    moved = {**PLACE, "name": "G", "north": 52.01}
    url = "/api/settings/sites/main/floors/ground"
    assert setup.client.put(url, json=moved, headers=setup.admin).status_code == 200
    assert load_config(setup.path).sites[0].floors[0].north == 52.01
    assert setup.client.delete(url, headers=setup.admin).status_code == 200
    assert load_config(setup.path).sites[0].floors == []
    assert setup.client.put(url, json=moved, headers=setup.admin).status_code == 404


def test_bad_uploads_get_typed_errors_and_change_nothing(setup: Setup) -> None:
    before = setup.path.read_text()
    not_image = _upload(setup, b"GIF89a but really just text")
    assert not_image.status_code == 400
    assert not_image.json()["error"]["code"] == "not_an_image"
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    assert _upload(setup, gif.getvalue()).json()["error"]["code"] == "not_an_image"
    too_big = _upload(setup, b"\x89PNG" + b"\0" * (9 * 1024 * 1024))
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "payload_too_large"
    unknown = _upload(setup, _image(), site="nowhere")
    assert unknown.status_code == 404
    assert "nowhere" in unknown.json()["error"]["message"]
    inverted = _upload(setup, _image(), south=52.01)
    assert inverted.status_code == 422
    assert "south must be below north" in inverted.json()["error"]["message"]
    bad_id = _upload(setup, _image(), floor="Ground Floor!")
    assert bad_id.status_code == 422
    assert [item["field"] for item in bad_id.json()["fields"]] == ["id"]
    escape = _upload(setup, _image(), floor="x.png")
    assert escape.status_code == 422
    assert setup.path.read_text() == before
    assert not list((setup.media / "floorplans").glob("*"))


def test_viewers_see_only_their_sites_floors(setup: Setup) -> None:
    assert _upload(setup, _image()).status_code == 200
    assert _upload(setup, _image(), site="depot", floor="yard", name="Yard").status_code == 200
    listed = setup.client.get("/api/floorplans", headers=setup.depot_viewer).json()
    assert [(item["site_id"], item["id"]) for item in listed] == [("depot", "yard")]
    main = setup.client.get("/api/floorplans/main/ground/image", headers=setup.depot_viewer)
    assert main.status_code == 404
    assert setup.client.get("/api/floorplans/main/ground/image").status_code == 401
    assert _upload(setup, _image(), site="depot", floor="x").status_code == 200
    forbidden = setup.client.put(
        URL.format(site="depot", floor="y"), content=_image(), params=PLACE, headers=setup.depot_viewer
    )
    assert forbidden.status_code == 403


def test_route_limits_apply_when_the_server_allows_bigger_bodies(setup: Setup) -> None:
    generous = ServerConfig(max_body_bytes=16 * 1024 * 1024)
    setup.client = TestClient(create_app(setup.client.app.state.context, generous))
    too_big = _upload(setup, _image() + b"\0" * (9 * 1024 * 1024))
    assert too_big.status_code == 413
    assert "at most 8388608 bytes" in too_big.json()["error"]["message"]
    huge = io.BytesIO()
    Image.new("1", (8000, 6000)).save(huge, format="PNG")  # 48 Mpixel, a few kB compressed
    too_many = _upload(setup, huge.getvalue())
    assert too_many.status_code == 413
    assert "pixels" in too_many.json()["error"]["message"]
    assert "floors" not in setup.path.read_text()


def test_a_plan_bigger_than_the_default_body_limit_uploads(setup: Setup) -> None:
    noisy = io.BytesIO()
    pixels = random.Random(7).randbytes(700 * 700 * 3)  # noise does not compress
    Image.frombytes("RGB", (700, 700), pixels).save(noisy, format="PNG")
    data = noisy.getvalue()
    assert len(data) > 1024 * 1024  # over server.max_body_bytes' default, under the route's 8 MiB

    assert _upload(setup, data).status_code == 200
    other = setup.client.put(
        "/api/settings/retention", content=b"{" + b" " * (1024 * 1024 + 10) + b"}", headers=setup.admin
    )
    assert other.status_code == 413
