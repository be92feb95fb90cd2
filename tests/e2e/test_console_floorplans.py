"""Indoor floor plans in Debian Chromium (Playwright): upload from Settings, see it on the map, switch floors.

A camera on the first floor shows only while that floor is shown; a camera without a floor shows on every
floor. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from tests.conftest import LiveServer

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# Around the two test cameras (52.200 and 52.201, 0.12).
CORNERS = {"south": 52.1995, "west": 0.1188, "north": 52.2015, "east": 0.1212}


def _plan(label: str) -> bytes:
    image = Image.new("RGB", (240, 200), (235, 235, 225))
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 230, 190), outline=(40, 40, 40), width=4)
    draw.text((20, 20), label, fill=(0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _put_camera_on_floor(server: LiveServer, camera_id: str, floor: str) -> None:
    with server.client() as client:
        cameras = client.get("/api/settings").json()["cameras"]
        camera = next(item for item in cameras if item["id"] == camera_id)
        camera["position"]["floor"] = floor
        response = client.put(f"/api/settings/cameras/{camera_id}", json=camera)
        assert response.status_code == 200, response.text


@pytest.mark.browser
def test_upload_a_floor_plan_see_it_on_the_map_and_switch_floors(
    live_server: LiveServer, browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    _put_camera_on_floor(live_server, "cam2", "first")
    with live_server.client() as client:
        ground = client.put(
            "/api/settings/sites/test-site/floors/ground/image",
            params={**CORNERS, "name": "Ground"},
            content=_plan("Ground floor"),
            headers={"Content-Type": "image/png"},
        )
        assert ground.status_code == 200, ground.text

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(live_server.base_url + "/")
    page.get_by_test_id("login-username").fill(live_server.admin_username)
    page.get_by_test_id("login-password").fill(live_server.admin_password)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("settings-open").click()
    page.get_by_test_id("settings-nav-sites").click()
    panel = page.get_by_test_id("settings-floor-plans")
    expect(panel.get_by_test_id("settings-floor")).to_have_count(1, timeout=10_000)

    # A non-image is refused with a clear message; nothing is added.
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    panel.get_by_label("Floor id").fill("first")
    panel.get_by_label("Floor name").fill("First")
    for key, value in CORNERS.items():
        panel.get_by_label(re.compile(f"^{key.capitalize()} edge")).fill(str(value))
    panel.get_by_label("Plan image").set_input_files(str(bad))
    panel.get_by_test_id("floor-upload").click()
    expect(panel.get_by_role("alert")).to_contain_text("not a readable PNG or JPEG")

    upper = tmp_path / "first.png"
    upper.write_bytes(_plan("First floor"))
    panel.get_by_label("Plan image").set_input_files(str(upper))
    panel.get_by_test_id("floor-upload").click()
    expect(page.get_by_test_id("settings-status")).to_contain_text("floor first of site test-site uploaded")
    expect(page.get_by_test_id("settings-floor")).to_have_count(2)

    # On the map: the switcher offers both floors (top floor first), the bottom floor's plan shows, and
    # only the camera without a floor is on it.
    page.goto(live_server.base_url + "/")
    switcher = page.get_by_test_id("floor-switcher")
    expect(switcher.get_by_role("button")).to_have_text(["First", "Ground"], timeout=20_000)
    plan = page.locator("img.floor-plan")
    expect(plan).to_have_attribute("data-floor-id", "ground")
    expect(plan).to_have_js_property("complete", True)
    expect(page.get_by_test_id("map-camera")).to_have_count(1, timeout=10_000)
    expect(page.locator('[data-testid="map-camera"][data-camera-id="cam1"]')).to_be_attached()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "map-floor-plan-ground.png"))

    switcher.get_by_role("button", name="First").click()
    expect(switcher.get_by_role("button", name="First")).to_have_attribute("aria-pressed", "true")
    expect(plan).to_have_attribute("data-floor-id", "first")
    expect(page.get_by_test_id("map-camera")).to_have_count(2, timeout=10_000)
    # The new plan image loads after the switch; wait for it rather than reading it at once.
    expect(plan).to_have_js_property("naturalWidth", 240)
    page.screenshot(path=str(SCREENSHOTS / "map-floor-plan-first.png"))
    page.close()
