"""Settings in Debian Chromium against a real server: add a camera (errors next to fields, test connection,
zones and masks drawn with the mouse), it starts streaming live; disable it; retention by keyboard only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from tests.conftest import LiveServer, wait_for
from tests.e2e.test_console_browser import CHROMIUM, CHROMIUM_FLAGS, _require_browser
from watchkeeper.simulator import RtspServer


@pytest.fixture(scope="module")
def settings_page() -> Iterator[object]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield page
        browser.close()


def _config(server: LiveServer) -> dict[str, object]:
    loaded = yaml.safe_load(server.config_path.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _camera(server: LiveServer, camera_id: str) -> dict[str, object] | None:
    cameras = _config(server)["cameras"]
    assert isinstance(cameras, list)
    return next((camera for camera in cameras if camera["id"] == camera_id), None)


def _log_in(page: object, server: LiveServer) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(server.base_url + "/")
    expect(page.get_by_test_id("login-form")).to_be_visible(timeout=20_000)
    page.get_by_test_id("login-username").fill(server.admin_username)
    page.get_by_test_id("login-password").fill(server.admin_password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("settings-open")).to_be_visible(timeout=20_000)


@pytest.mark.browser
def test_add_camera_with_zones_then_disable(
    live_server: LiveServer, settings_page: object, sim_cameras: RtspServer
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(settings_page, Page)
    page = settings_page
    _log_in(page, live_server)
    page.get_by_test_id("settings-open").click()
    rows = page.get_by_test_id("settings-camera-row")
    expect(rows).to_have_count(2, timeout=10_000)

    # An invalid camera: each problem shows next to its field, and the file is not touched.
    before = live_server.config_path.read_text()
    page.get_by_test_id("camera-add").click()
    form = page.get_by_test_id("camera-form")
    form.get_by_label("Camera id").fill("Bad Id")
    form.get_by_label("Stream 1 URL").fill("ftp://example.invalid/x")
    form.get_by_label("Latitude").fill("95")
    form.get_by_test_id("camera-save").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("fix the fields")
    expect(page.get_by_test_id("error-cam-new-id")).to_contain_text("should match pattern")
    expect(page.get_by_test_id("error-cam-new-name")).to_be_visible()
    expect(page.get_by_test_id("error-cam-new-url-0")).to_contain_text("unsupported URL scheme 'ftp'")
    expect(page.get_by_test_id("error-cam-new-lat")).to_contain_text("90")
    expect(form.get_by_label("Camera id")).to_have_attribute("aria-invalid", "true")
    assert live_server.config_path.read_text() == before

    # Fixed: test the connection for real, draw a zone and a privacy mask with the mouse, save.
    form.get_by_label("Camera id").fill("cam3")
    form.get_by_label("Name", exact=True).fill("Loading bay")
    form.get_by_label("Stream 1 URL").fill(sim_cameras.url("/cam2"))
    form.get_by_label("Latitude").fill("52.21")
    form.get_by_label("Longitude").fill("0.12")
    form.get_by_test_id("probe-0").click()
    expect(form.get_by_test_id("probe-result-0")).to_contain_text("Connected: h264 320x180", timeout=15_000)
    canvas = form.get_by_test_id("shape-canvas")
    box = canvas.bounding_box()
    assert box is not None
    for fx, fy in ((0.1, 0.5), (0.5, 0.5), (0.5, 0.9)):
        canvas.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
    form.get_by_test_id("shape-name").fill("dock")
    form.get_by_test_id("shape-finish").click()
    form.get_by_test_id("tool-mask").click()
    for fx, fy in ((0.7, 0.0), (1.0, 0.0), (1.0, 0.3)):
        canvas.click(position={"x": box["width"] * fx - (1 if fx == 1 else 0), "y": box["height"] * fy + 1})
    form.get_by_test_id("shape-finish").click()
    expect(form.get_by_test_id("shape-list")).to_contain_text("Zone dock (3 points)")
    expect(form.get_by_test_id("shape-list")).to_contain_text("Privacy mask mask-1 (3 points)")
    form.get_by_test_id("camera-save").click()
    expect(page.get_by_test_id("settings-status")).to_have_text("Saved: camera cam3 added.", timeout=20_000)
    expect(rows).to_have_count(3)

    cam3 = _camera(live_server, "cam3")
    assert cam3 is not None
    zones = cam3["zones"]
    assert isinstance(zones, list)
    assert zones[0]["name"] == "dock"
    assert zones[0]["polygon"][0] == pytest.approx([0.1, 0.5], abs=0.01)
    assert cam3["privacy_masks"][0]["name"] == "mask-1"  # type: ignore[index]

    # The runtime started a worker for it without a restart: it streams.
    with live_server.client() as client:

        def streaming() -> bool:
            listed = {camera["id"]: camera for camera in client.get("/api/cameras").json()}
            return "cam3" in listed and listed["cam3"]["status"]["state"] == "streaming"

        wait_for(streaming, timeout=30, what="the new camera to stream")

    # Disable it from the list.
    page.get_by_role("button", name="Disable camera cam3").click()
    expect(page.get_by_test_id("settings-status")).to_have_text(
        "Saved: camera cam3 disabled.", timeout=20_000
    )
    expect(rows.filter(has_text="Loading bay")).to_contain_text("disabled")
    cam3 = _camera(live_server, "cam3")
    assert cam3 is not None
    assert cam3["enabled"] is False


@pytest.mark.browser
def test_retention_form_works_from_the_keyboard(live_server: LiveServer, settings_page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(settings_page, Page)
    page = settings_page
    page.goto(live_server.base_url + "/#/settings")
    expect(page.get_by_test_id("settings-page")).to_be_visible(timeout=20_000)
    page.get_by_test_id("settings-nav-retention").focus()
    page.keyboard.press("Enter")
    days = page.get_by_label("Keep recordings (days)")
    expect(days).to_be_visible()
    page.keyboard.press("Tab")  # the next stop after the section buttons is the first field
    for _ in range(10):
        if days.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    assert days.evaluate("el => el === document.activeElement"), "Tab never reached the retention field"
    page.keyboard.press("Control+A")
    page.keyboard.type("-1")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("error-retain-days")).to_contain_text("greater than or equal to 0")
    expect(days).to_have_attribute("aria-invalid", "true")
    page.keyboard.press("Control+A")
    page.keyboard.type("5")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("settings-status")).to_contain_text("Saved: retention 5 days", timeout=20_000)
    recording = _config(live_server)["recording"]
    assert isinstance(recording, dict)
    assert recording["retain_days"] == 5
