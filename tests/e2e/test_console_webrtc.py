"""The live grid over WebRTC in Debian Chromium (Playwright), and its automatic fallback to MSE.

Chromium hides host addresses behind mDNS names and leaves loopback out of WebRTC by default; the flags
below let it connect to the server on this machine (a real deployment reaches viewers on the LAN, or
through the TURN server set in ``server.webrtc.ice_servers``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.e2e.test_console_browser import CHROMIUM, CHROMIUM_FLAGS, _require_browser
from tests.e2e.test_console_live import VIDEO_TIMES

WEBRTC_FLAGS = [
    *CHROMIUM_FLAGS,
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]


@pytest.fixture(scope="module")
def rtc_browser() -> Iterator[Any]:
    """Debian Chromium allowed to use WebRTC host candidates on this machine."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=WEBRTC_FLAGS)
        yield launched
        launched.close()


def _logged_in(browser: Any, server: LiveServer) -> Any:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script("window.localStorage.setItem('wk-grid', '4')")
    page = context.new_page()
    page.goto(server.base_url + "/")
    expect(page.get_by_test_id("login-form")).to_be_visible(timeout=20_000)
    page.get_by_test_id("login-username").fill(server.admin_username)
    page.get_by_test_id("login-password").fill(server.admin_password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("user-name")).to_have_text(re.compile(r"\S"), timeout=10_000)
    return page


@pytest.mark.browser
def test_live_grid_plays_over_webrtc(rtc_browser: Any, live_server: LiveServer) -> None:
    from playwright.sync_api import expect

    page = _logged_in(rtc_browser, live_server)
    try:
        page.goto(live_server.base_url + "/#/live")
        tiles = page.get_by_test_id("live-tile")
        expect(tiles).to_have_count(2, timeout=10_000)
        for tile in tiles.all():
            expect(tile).to_have_attribute("data-transport", "webrtc")
        page.wait_for_function(f"() => ({VIDEO_TIMES})().every(t => t > 0.5)", timeout=30_000)
        first = page.evaluate(VIDEO_TIMES)
        page.wait_for_function(
            f"(first) => ({VIDEO_TIMES})().every((t, i) => t > first[i] + 0.5)", arg=first, timeout=15_000
        )
        # Still WebRTC: the tiles did not fall back while playing.
        expect(page.locator('[data-testid="live-media"][data-transport="webrtc"]')).to_have_count(2)
        expect(page.get_by_test_id("live-time").first).not_to_have_text("waiting for a picture…")
    finally:
        page.context.close()


def _refuse(route: Any) -> None:
    route.fulfill(
        status=503,
        content_type="application/json",
        body='{"error": {"code": "test", "message": "refused by the test"}}',
    )


@pytest.mark.browser
def test_live_grid_falls_back_to_mse_when_webrtc_cannot_connect(
    rtc_browser: Any, live_server: LiveServer
) -> None:
    """Every WebRTC offer is refused here (the route answers 503): the tiles step down to MSE and play."""
    from playwright.sync_api import expect

    page = _logged_in(rtc_browser, live_server)
    try:
        page.route(re.compile(r".*/api/cameras/[^/]+/live/webrtc$"), _refuse)
        page.goto(live_server.base_url + "/#/live")
        expect(page.get_by_test_id("live-tile")).to_have_count(2, timeout=10_000)
        expect(page.locator('[data-testid="live-media"][data-transport="mse"]')).to_have_count(
            2, timeout=15_000
        )
        page.wait_for_function(f"() => ({VIDEO_TIMES})().every(t => t > 0.5)", timeout=30_000)
    finally:
        page.context.close()
