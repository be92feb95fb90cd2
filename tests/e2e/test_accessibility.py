"""Accessibility in Debian Chromium: axe-core (from web/node_modules, no network) on the login page, the
map and incident queue, an incident page and the settings pages; keyboard navigation of the queue.

Violations of serious or critical impact fail the test with axe's own description of each node.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.e2e.test_console_browser import CHROMIUM, CHROMIUM_FLAGS, _require_browser

AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def a11y_page() -> Iterator[object]:
    _require_browser()
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `cd web && npm ci`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        yield page
        browser.close()


def _violations(page: Any, theme: str) -> list[str]:
    """Run axe on the page as it is now; one line per blocking violation and node."""
    page.evaluate(f"document.documentElement.dataset.theme = {json.dumps(theme)}")
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))  # evaluate is not subject to the page's CSP
    result = page.evaluate(
        "async () => await window.axe.run(document, {resultTypes: ['violations'],"
        " runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    lines = []
    for violation in result["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        for node in violation["nodes"][:5]:
            where = f"[{theme}] {violation['id']} ({violation['impact']}): {node['target']}"
            lines.append(f"{where} {node['failureSummary']}")
    return lines


def _check(page: Any, where: str) -> list[str]:
    return [f"{where}: {line}" for theme in ("dark", "light") for line in _violations(page, theme)]


def _report_incident(server: LiveServer) -> str:
    with server.client() as client:
        type_code = client.get("/api/incident-types").json()[0]["code"]
        ids = []
        for priority in ("high", "low"):
            response = client.post(
                "/api/incidents",
                json={
                    "type_code": type_code,
                    "camera_id": "cam1",
                    "note": "a11y check",
                    "priority": priority,
                },
            )
            assert response.status_code == 201, response.text
            ids.append(str(response.json()["id"]))
        return ids[0]


@pytest.mark.browser
def test_no_serious_violations_and_keyboard_queue(live_server: LiveServer, a11y_page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(a11y_page, Page)
    page = a11y_page
    incident_id = _report_incident(live_server)
    problems: list[str] = []

    page.goto(live_server.base_url + "/")
    expect(page.get_by_test_id("login-form")).to_be_visible(timeout=20_000)
    problems += _check(page, "login")

    page.get_by_test_id("login-username").fill(live_server.admin_username)
    page.get_by_test_id("login-password").fill(live_server.admin_password)
    page.get_by_test_id("login-submit").click()
    items = page.get_by_test_id("incident-item")
    expect(items).to_have_count(2, timeout=20_000)
    expect(page.locator(".leaflet-marker-icon").first).to_be_visible(timeout=20_000)
    problems += _check(page, "map and queue")

    # The queue by keyboard: focus the first row, arrow down, Enter opens the incident page.
    items.first.focus()
    page.keyboard.press("ArrowDown")
    expect(items.nth(1)).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(items.first).to_be_focused()
    assert items.first.get_attribute("data-incident-id") == incident_id  # high priority first
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.base_url}/#/incident/{incident_id}", timeout=10_000)
    page.wait_for_load_state("networkidle")
    problems += _check(page, "incident page")

    page.goto(live_server.base_url + "/#/settings")
    expect(page.get_by_test_id("settings-cameras")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Edit camera cam1").click()
    expect(page.get_by_test_id("camera-form")).to_be_visible()
    problems += _check(page, "settings: camera form")
    for section in ("sites", "retention", "users"):
        page.get_by_test_id(f"settings-nav-{section}").click()
        expect(page.get_by_test_id(f"settings-{section}")).to_be_visible()
        if section == "users":
            expect(page.get_by_test_id("user-row").first).to_be_visible()
        problems += _check(page, f"settings: {section}")

    assert problems == [], "\n".join(problems)
