"""The HLS playlist of a recorded range plays in Debian Chromium with hls.js (Media Source Extensions)."""

from __future__ import annotations

import json
import shutil
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.api.conftest import PlaybackSetup, api_server, playback_setup  # noqa: F401 - fixtures used below
from tests.e2e.test_console_browser import CHROMIUM, CHROMIUM_FLAGS
from tests.recorder.playback_footage import T0
from tests.support.services import services_required

HLS_JS = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "hls.js" / "dist" / "hls.min.js"
PAGE_PATH = "/__playback_test__.html"
HLS_JS_PATH = "/__playback_test__/hls.min.js"


def _require_browser() -> None:
    problems = []
    if shutil.which(CHROMIUM) is None:
        problems.append(f"{CHROMIUM} is missing (make system-deps installs it)")
    if not HLS_JS.is_file():
        problems.append("hls.js is not installed (cd web && npm ci)")
    if not problems:
        return
    if services_required():
        pytest.fail("; ".join(problems))
    pytest.skip("; ".join(problems))


def _page_html(playlist_url: str) -> str:
    return f"""<!doctype html><html><body>
<video id="v" muted playsinline autoplay width="320"></video>
<script src="{HLS_JS_PATH}"></script>
<script>
  window.hlsErrors = [];
  const video = document.getElementById("v");
  const hls = new Hls({{ enableWorker: false }});
  hls.on(Hls.Events.ERROR, (_, data) => window.hlsErrors.push(data.details + (data.fatal ? " (fatal)" : "")));
  hls.loadSource({json.dumps(playlist_url)});
  hls.attachMedia(video);
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
  window.hls = hls;
</script></body></html>"""


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
def test_hls_js_plays_a_recorded_range_across_segments(
    api_server: str,  # noqa: F811
    playback_setup: PlaybackSetup,  # noqa: F811
    browser_page: object,
) -> None:
    from playwright.sync_api import Page, Route

    assert isinstance(browser_page, Page)
    page = browser_page
    query = urllib.parse.urlencode({"start": T0.isoformat(), "end": (T0 + timedelta(seconds=6)).isoformat()})
    playlist = f"/api/cameras/cam1/hls.m3u8?{query}"
    html = _page_html(playlist)

    def serve_page(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body=html)

    def serve_hls_js(route: Route) -> None:
        route.fulfill(status=200, content_type="text/javascript", body=HLS_JS.read_bytes())

    page.set_extra_http_headers(playback_setup.headers)  # hls.js requests carry the admin's token
    page.route(f"{api_server}{PAGE_PATH}", serve_page)
    page.route(f"{api_server}{HLS_JS_PATH}", serve_hls_js)
    page.goto(api_server + PAGE_PATH)
    # Past the 3rd one-second segment: hls.js crossed at least two discontinuities (new init sections).
    page.wait_for_function(
        "() => { const v = document.getElementById('v'); return v.currentTime > 2.5 && v.videoWidth > 0; }",
        timeout=20_000,
    )
    width = page.evaluate("() => document.getElementById('v').videoWidth")
    fatal = [error for error in page.evaluate("() => window.hlsErrors") if "fatal" in error]
    assert width == 320
    assert fatal == []
