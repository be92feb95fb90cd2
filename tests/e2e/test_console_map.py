"""The operator console's map and incident queue in Debian Chromium (Playwright).

The test cameras appear on the map with their field-of-view cones over the server's own offline grid
tiles; an incident reported through the API shows up in the queue and as a map pin without a reload, and
is acknowledged from the queue. Without tiles (a blocked tile server) the console says so and keeps
working. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}


def _sign_in(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    page.goto(server.base_url + "/")
    expect(page.get_by_test_id("login-form")).to_be_visible(timeout=20_000)
    page.get_by_test_id("login-username").fill(server.admin_username)
    page.get_by_test_id("login-password").fill(server.admin_password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("user-name")).to_have_text(re.compile(r"\S"), timeout=10_000)


def _report_incident(server: LiveServer, camera_id: str) -> str:
    with server.client() as client:
        types = client.get("/api/incident-types")
        assert types.status_code == 200, types.text
        type_code = types.json()[0]["code"]
        response = client.post(
            "/api/incidents",
            json={
                "type_code": type_code,
                "camera_id": camera_id,
                "note": "Seen on the map test",
                "priority": "high",
            },
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


def _incident_state(server: LiveServer, incident_id: str) -> str:
    with server.client() as client:
        response = client.get(f"/api/incidents/{incident_id}")
        assert response.status_code == 200, response.text
        return str(response.json()["incident"]["state"])


@pytest.mark.browser
def test_map_shows_cameras_and_live_incidents_that_are_acknowledged_from_the_queue(
    live_server: LiveServer, browser: Any
) -> None:
    from playwright.sync_api import ConsoleMessage, expect

    page = browser.new_page(viewport=VIEWPORT)
    csp_violations: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            csp_violations.append(message.text)

    page.on("console", on_console)
    _sign_in(page, live_server)

    # Both test cameras are placed: a marker and a field-of-view cone each, over locally served tiles.
    expect(page.get_by_test_id("map-camera")).to_have_count(2, timeout=20_000)
    expect(page.locator('[data-testid="map-camera"][data-camera-id="cam1"]')).to_be_visible()
    expect(page.locator("path.cone")).to_have_count(2, timeout=10_000)
    expect(page.locator("img.leaflet-tile-loaded").first).to_be_attached(timeout=10_000)
    assert page.get_by_test_id("map-tile-notice").count() == 0
    expect(page.get_by_test_id("unplaced-cameras")).to_contain_text("Every camera has a map position")
    expect(page.get_by_test_id("ws-state")).to_have_attribute("data-state", "live", timeout=10_000)

    # An incident reported through the API arrives in the queue and on the map without a reload.
    incident_id = _report_incident(live_server, "cam1")
    row = page.locator(f'[data-testid="incident-item"][data-incident-id="{incident_id}"]')
    expect(row).to_be_visible(timeout=10_000)
    expect(row).to_have_attribute("data-state", "new")
    expect(row).to_contain_text("High")
    expect(page.locator(f'[data-testid="map-incident"][data-incident-id="{incident_id}"]')).to_be_attached()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(500)  # let the tiles paint for the screenshot
    page.screenshot(path=str(SCREENSHOTS / "map.png"))

    # Acknowledge it from the queue: the row says so in words, and the server agrees.
    row.get_by_test_id("incident-action-acknowledge").click()
    expect(row).to_have_attribute("data-state", "acknowledged", timeout=10_000)
    expect(row.get_by_test_id("incident-state")).to_have_text(re.compile("Acknowledged"))
    assert _incident_state(live_server, incident_id) == "acknowledged"

    # The incident page: its history, its place on the map and the camera's live view.
    row.get_by_test_id("incident-open").click()
    incident_page = page.get_by_test_id("incident-page")
    expect(incident_page).to_be_visible(timeout=10_000)
    expect(page.get_by_test_id("incident-history")).to_contain_text("Acknowledge", timeout=10_000)
    expect(incident_page.get_by_test_id("live-view")).to_have_attribute("data-camera-id", "cam1")
    expect(
        incident_page.locator(f'[data-testid="map-incident"][data-incident-id="{incident_id}"]')
    ).to_be_attached()
    page.screenshot(path=str(SCREENSHOTS / "incident.png"))
    page.get_by_test_id("incident-back").click()
    expect(page.get_by_test_id("incident-queue")).to_be_visible()

    assert csp_violations == []
    page.close()


@pytest.mark.browser
def test_console_keeps_working_when_the_tile_server_is_unreachable(
    live_server: LiveServer, browser: Any
) -> None:
    from playwright.sync_api import Route, expect

    page = browser.new_page(viewport=VIEWPORT)

    def refuse(route: Route) -> None:
        route.abort("connectionrefused")

    page.route("**/tiles/**", refuse)
    _sign_in(page, live_server)
    expect(page.get_by_test_id("map-tile-notice")).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("map-tile-notice")).to_contain_text("Map background unavailable")
    expect(page.get_by_test_id("map-camera")).to_have_count(2, timeout=20_000)
    expect(page.get_by_test_id("camera-item")).to_have_count(2)
    page.screenshot(path=str(SCREENSHOTS / "map-no-tiles.png"))
    page.close()
