"""The built console in Debian Chromium (Playwright): cameras, live events and playback."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LiveServer
from tests.support.services import services_required

CHROMIUM = "/usr/bin/chromium"
STATIC_INDEX = Path(__file__).resolve().parents[2] / "watchkeeper" / "api" / "static" / "index.html"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def _require_browser() -> None:
    problems = []
    if shutil.which(CHROMIUM) is None:
        problems.append(f"{CHROMIUM} is missing (make system-deps installs it)")
    if not STATIC_INDEX.is_file():
        problems.append("the console is not built (make web)")
    if not problems:
        return
    if services_required():
        pytest.fail("; ".join(problems))
    pytest.skip("; ".join(problems))


@pytest.fixture(scope="module")
def browser_page() -> Iterator[object]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        yield page
        browser.close()


@pytest.mark.browser
def test_console_shows_cameras_live_events_and_plays_a_recording(
    live_server: LiveServer, browser_page: object
) -> None:
    from playwright.sync_api import ConsoleMessage, Page, expect

    assert isinstance(browser_page, Page)
    page = browser_page
    csp_violations: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            csp_violations.append(message.text)

    page.on("console", on_console)
    page.goto(live_server.base_url + "/")

    # Not signed in: the login page. A wrong password is refused with a readable message.
    expect(page.get_by_test_id("login-form")).to_be_visible(timeout=20_000)
    page.get_by_test_id("login-username").fill(live_server.admin_username)
    page.get_by_test_id("login-password").fill("not-the-password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("Wrong user name or password")
    page.get_by_test_id("login-username").fill(live_server.admin_username)
    page.get_by_test_id("login-password").fill(live_server.admin_password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("user-name")).to_have_text(re.compile(r"\S"), timeout=10_000)

    expect(page.get_by_test_id("camera-item")).to_have_count(2, timeout=20_000)
    expect(page.get_by_test_id("camera-list")).to_contain_text("Test camera cam1")
    expect(page.get_by_test_id("ws-state")).to_have_attribute("data-state", "live", timeout=10_000)
    expect(page.get_by_test_id("camera-list")).to_contain_text(
        re.compile("streaming", re.IGNORECASE), timeout=20_000
    )

    # A motion event arrives over the WebSocket without a reload.
    expect(page.get_by_test_id("event-item").first).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("event-list")).to_contain_text(re.compile("motion", re.IGNORECASE))

    # Pick a camera, pick a recording, and the browser really decodes it.
    page.locator('[data-testid="camera-item"][data-camera-id="cam1"]').click()
    expect(page.get_by_test_id("recording-item").first).to_be_visible(timeout=20_000)
    page.get_by_test_id("recording-item").first.click()
    player = page.get_by_test_id("player")
    expect(player).to_be_visible()
    page.wait_for_function(
        "() => { const v = document.querySelector('[data-testid=player]');"
        " return v && v.readyState >= 2 && v.videoWidth === 320; }",
        timeout=15_000,
    )
    assert page.get_by_test_id("error-banner").count() == 0

    # The strict CSP blocked nothing the console needs; signing out returns to the login page, and a
    # reload stays signed out.
    assert csp_violations == []
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-form")).to_be_visible(timeout=10_000)
    page.reload()
    expect(page.get_by_test_id("login-form")).to_be_visible(timeout=10_000)
