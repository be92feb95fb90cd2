"""Selecting an area on the overview map in Debian Chromium (Playwright) filters the console to its cameras.

Four cameras: cam1 and cam2 stream simulated footage (cam2 about 110 m north of cam1), cam3 is placed about
100 m east of cam1 but never answers, cam4 has no map position. A rectangle dragged around cam1 and cam3
leaves the camera list, the recordings and the live events with those two (cameras without a position are
outside every area); the Review link opens them in sync; the chip clears the area. The keyboard way ("Use
map view") and Escape work too, with no serious axe violations. The screenshot goes to
``test-artifacts/screenshots/map-area.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import LiveServer, free_port, start_server, stop_server, write_test_config
from tests.e2e.test_accessibility import AXE, _check
from watchkeeper.simulator import RtspServer

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}
INSIDE = ("cam1", "cam3")
"""The cameras the dragged rectangle encloses."""


@pytest.fixture(scope="module")
def area_server(sim_cameras: RtspServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Two streaming cameras, one placed camera that never answers and one without a map position."""
    port = free_port()
    nowhere = f"rtsp://127.0.0.1:{free_port()}/none"
    urls = {
        "cam1": sim_cameras.url("/cam1"),
        "cam2": sim_cameras.url("/cam2"),
        "cam3": nowhere,
        "cam4": nowhere,
    }
    config = write_test_config(tmp_path_factory.mktemp("area"), urls, http_port=port)
    document = yaml.safe_load(config.read_text())
    cameras = {camera["id"]: camera for camera in document["cameras"]}
    cameras["cam3"]["position"] = {"lat": 52.2, "lon": 0.1215, "heading_deg": 270, "fov_deg": 70}
    del cameras["cam4"]["position"]
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    server = start_server(config, port)
    yield server
    stop_server(server)


def _sign_in(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    page.goto(server.base_url + "/")
    expect(page.get_by_test_id("login-form")).to_be_visible(timeout=20_000)
    page.get_by_test_id("login-username").fill(server.admin_username)
    page.get_by_test_id("login-password").fill(server.admin_password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("user-name")).to_have_text(re.compile(r"\S"), timeout=10_000)


def _centre(page: Any, camera_id: str) -> tuple[float, float]:
    """Where a camera's marker is on the screen (markers are redrawn when a camera's state changes)."""
    from playwright.sync_api import expect

    marker = page.locator(f'[data-testid="map-camera"][data-camera-id="{camera_id}"]')
    for _ in range(50):
        expect(marker).to_be_visible(timeout=10_000)
        box = marker.bounding_box()
        if box is not None:
            return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.wait_for_timeout(100)
    raise AssertionError(f"{camera_id} is not drawn on the map")


def _listed(page: Any, test_id: str) -> list[str]:
    return [str(item.get_attribute("data-camera-id")) for item in page.get_by_test_id(test_id).all()]


@pytest.mark.browser
def test_drag_an_area_on_the_map_to_filter_cameras_events_and_recordings(
    area_server: LiveServer, browser: Any
) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport=VIEWPORT)
    _sign_in(page, area_server)
    cameras = page.get_by_test_id("camera-item")
    expect(cameras).to_have_count(4, timeout=20_000)
    expect(page.get_by_test_id("map-camera")).to_have_count(3, timeout=20_000)
    events = page.get_by_test_id("event-list")
    # cam2 (outside the area to come) has live events before the area is drawn.
    expect(events.locator('[data-camera-id="cam2"]').first).to_be_visible(timeout=45_000)
    page.locator('[data-testid="camera-item"][data-camera-id="cam2"]').click()
    expect(page.locator("#recordings-title")).to_have_text("Recordings — Test camera cam2")

    # Escape cancels selecting; a click (no drag) selects nothing.
    select = page.get_by_test_id("area-select")
    expect(select).to_have_attribute("aria-label", re.compile("^Select area: drag a rectangle"))
    select.click()
    expect(select).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("area-hint")).to_contain_text("Drag a rectangle")
    page.keyboard.press("Escape")
    expect(select).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_test_id("area-hint")).to_have_count(0)
    select.click()
    cam1_x, cam1_y = _centre(page, "cam1")
    page.mouse.click(cam1_x + 30, cam1_y + 30)
    expect(select).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("area-chip")).to_have_count(0)

    # Drag a rectangle around cam1 and cam3 (cam2 is ~300 px further north); the outline follows the pointer.
    cam3_x, cam3_y = _centre(page, "cam3")
    cam2_y = _centre(page, "cam2")[1]
    assert cam2_y < min(cam1_y, cam3_y) - 100, "cam2 should be well north of cam1 and cam3"
    left, right = min(cam1_x, cam3_x) - 40, max(cam1_x, cam3_x) + 40
    top, bottom = min(cam1_y, cam3_y) - 40, max(cam1_y, cam3_y) + 40
    page.mouse.move(left, top)
    page.mouse.down()
    page.mouse.move((left + right) / 2, (top + bottom) / 2, steps=5)
    expect(page.get_by_test_id("area-draft")).to_be_attached()
    page.mouse.move(right, bottom, steps=5)
    page.mouse.up()

    chip = page.get_by_test_id("area-chip")
    expect(chip).to_contain_text("Area: 2 cameras")
    expect(page.get_by_test_id("area-outline")).to_be_attached()
    expect(page.get_by_test_id("area-count")).to_have_text("2 of 4 cameras in the selected area")
    expect(cameras).to_have_count(2)
    assert _listed(page, "camera-item") == list(INSIDE)
    # cam2 was selected; it is outside, so the recordings are the first camera's inside the area.
    expect(page.locator("#recordings-title")).to_have_text("Recordings — Test camera cam1")
    expect(page.get_by_test_id("recording-item").first).to_be_visible(timeout=20_000)
    # Only events of cameras inside (cam1 streams; cam3 never answers).
    expect(events.locator('[data-camera-id="cam2"]')).to_have_count(0)
    expect(events.locator('[data-camera-id="cam1"]').first).to_be_visible(timeout=30_000)
    assert set(_listed(page, "event-item")) <= set(INSIDE)
    review = page.get_by_test_id("area-review")
    expect(review).to_have_attribute("data-camera-ids", "cam1,cam3")
    expect(review).to_have_attribute("href", "#/review/cam1,cam3")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)  # let the tiles paint for the screenshot
    page.screenshot(path=str(SCREENSHOTS / "map-area.png"))

    # Review opens with both cameras of the area checked, for synchronized playback.
    review.click()
    expect(page.get_by_test_id("review")).to_be_visible(timeout=10_000)
    checked = page.locator('[data-testid="review-camera"]:checked')
    expect(checked).to_have_count(2)
    assert _listed(page, "review-camera") == ["cam1", "cam2", "cam3", "cam4"]
    assert [str(box.get_attribute("data-camera-id")) for box in checked.all()] == list(INSIDE)

    # Back on the overview the area is still set; the chip clears it and every camera and event is back.
    page.get_by_test_id("nav-overview").click()
    expect(chip).to_contain_text("Area: 2 cameras", timeout=10_000)
    expect(page.get_by_test_id("area-outline")).to_be_attached()
    chip.click()
    expect(chip).to_have_count(0)
    expect(page.get_by_test_id("area-bar")).to_have_count(0)
    expect(page.get_by_test_id("area-outline")).to_have_count(0)
    expect(cameras).to_have_count(4)
    expect(events.locator('[data-camera-id="cam2"]').first).to_be_visible(timeout=30_000)
    page.close()


@pytest.mark.browser
def test_select_the_map_view_as_the_area_with_the_keyboard(area_server: LiveServer, browser: Any) -> None:
    """The keyboard way, with no serious axe violations while selecting and with an area set."""
    from playwright.sync_api import expect

    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `cd web && npm ci`")

    page = browser.new_page(viewport=VIEWPORT)
    _sign_in(page, area_server)
    expect(page.get_by_test_id("map-camera")).to_have_count(3, timeout=20_000)
    select = page.get_by_test_id("area-select")
    select.focus()
    page.keyboard.press("Enter")
    expect(select).to_have_attribute("aria-pressed", "true")
    problems = _check(page, "selecting an area")
    page.keyboard.press("Tab")
    expect(page.get_by_test_id("area-use-view")).to_be_focused()
    page.keyboard.press("Enter")
    # Every placed camera is in view (the map fits them); cam4 has no position and stays outside.
    chip = page.get_by_test_id("area-chip")
    expect(chip).to_contain_text("Area: 3 cameras")
    expect(page.get_by_test_id("area-count")).to_have_text("3 of 4 cameras in the selected area")
    assert _listed(page, "camera-item") == ["cam1", "cam2", "cam3"]
    expect(page.get_by_test_id("area-review")).to_have_attribute("href", "#/review/cam1,cam2,cam3")
    problems += _check(page, "area selected")
    assert problems == [], "\n".join(problems)
    chip.focus()
    page.keyboard.press("Enter")
    expect(chip).to_have_count(0)
    expect(page.get_by_test_id("camera-item")).to_have_count(4)
    page.close()
