"""Live grid, review timeline with synced playback and export, and search, in Debian Chromium (Playwright).

A real server with four cameras (two simulated RTSP streams, each opened by two camera entries). The live
grid shows four tiles whose pictures advance, over MSE (fMP4 over a WebSocket) and over the MJPEG fallback;
a tile opens the camera alone with its recent events. The review page shows a recorded span on a camera's
timeline, plays it (the video's ``currentTime`` advances) and exports a signed bundle that downloads. Search
by object class lists events with (redacted) thumbnails; the object events are written into the server's
database (the test footage has nothing the detector would find). Screenshots go to
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import time
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer, free_port, start_server, stop_server, write_test_config
from watchkeeper.analyzers.event_snapshots import event_snapshot_path
from watchkeeper.domain import CameraId, Event, EventKind, utcnow
from watchkeeper.simulator import RtspServer
from watchkeeper.storage.factory import open_store

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}
CAMERAS = ("cam1", "cam2", "cam3", "cam4")


@pytest.fixture(scope="module")
def server(sim_cameras: RtspServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    port = free_port()
    urls = {camera: sim_cameras.url(f"/cam{index % 2 + 1}") for index, camera in enumerate(CAMERAS)}
    config = write_test_config(tmp_path_factory.mktemp("console-live"), urls, http_port=port)
    live = start_server(config, port)
    yield live
    stop_server(live)


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    from playwright.sync_api import expect

    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.add_init_script("window.localStorage.setItem('wk-grid', '4')")
    opened = context.new_page()
    csp_violations: list[str] = []
    opened.on(
        "console",
        lambda message: (
            csp_violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    opened.goto(server.base_url + "/")
    expect(opened.get_by_test_id("login-form")).to_be_visible(timeout=20_000)
    opened.get_by_test_id("login-username").fill(server.admin_username)
    opened.get_by_test_id("login-password").fill(server.admin_password)
    opened.get_by_test_id("login-submit").click()
    expect(opened.get_by_test_id("user-name")).to_have_text(re.compile(r"\S"), timeout=10_000)
    yield opened
    context.close()
    assert csp_violations == []  # the strict CSP blocks nothing these views need (MSE blob:, hls.js, Leaflet)


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


VIDEO_TIMES = "() => [...document.querySelectorAll('[data-testid=live-media]')].map(v => v.currentTime)"
PIXELS = """() => [...document.querySelectorAll('[data-testid=live-media]')].map(img => {
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  if (!canvas.width) return '';
  const ctx = canvas.getContext('2d'); ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0; for (let i = 0; i < data.length; i += 97) sum = (sum * 31 + data[i]) % 1000000007;
  return String(sum);
})"""


@pytest.mark.browser
def test_live_grid_shows_four_cameras_with_advancing_pictures_over_mse(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    page.goto(server.base_url + "/?live=mse#/live")  # WebRTC would be preferred (test_console_webrtc)
    tiles = page.get_by_test_id("live-tile")
    expect(tiles).to_have_count(4, timeout=10_000)
    for tile in tiles.all():
        expect(tile).to_have_attribute("data-transport", "mse")
    page.wait_for_function(f"() => ({VIDEO_TIMES})().every(t => t > 0.5)", timeout=30_000)
    first = page.evaluate(VIDEO_TIMES)
    page.wait_for_function(
        f"(first) => ({VIDEO_TIMES})().every((t, i) => t > first[i] + 0.5)", arg=first, timeout=15_000
    )
    expect(page.get_by_test_id("live-time").first).not_to_have_text("waiting for a picture…")
    _shot(page, "console-live-grid.png")

    # A click opens the camera alone, with its recent events; back returns to the grid.
    page.locator('[data-testid="live-tile"][data-camera-id="cam2"] button').click()
    expect(page.get_by_test_id("live-focus")).to_contain_text("Test camera cam2")
    expect(page.get_by_test_id("live-events")).to_be_visible()
    expect(page.get_by_test_id("live-events").locator("li").first).to_be_visible(timeout=30_000)
    page.get_by_test_id("live-back").click()
    expect(page.get_by_test_id("live-tile")).to_have_count(4)


@pytest.mark.browser
def test_live_grid_falls_back_to_mjpeg_with_advancing_pictures(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    page.goto(server.base_url + "/?live=mjpeg#/live")
    tiles = page.get_by_test_id("live-tile")
    expect(tiles).to_have_count(4, timeout=10_000)
    expect(page.locator('[data-testid="live-media"][data-transport="mjpeg"]')).to_have_count(4)
    page.wait_for_function(f"() => ({PIXELS})().every(p => p !== '')", timeout=20_000)
    first = page.evaluate(PIXELS)
    page.wait_for_function(
        f"(first) => ({PIXELS})().every((p, i) => p !== first[i])", arg=first, timeout=15_000
    )
    page.get_by_test_id("grid-1").click()
    expect(page.get_by_test_id("live-tile")).to_have_count(1)


@pytest.mark.browser
def test_review_timeline_plays_a_recorded_span_and_exports_a_signed_bundle(
    page: Any, server: LiveServer
) -> None:
    from playwright.sync_api import expect

    time.sleep(4)  # a few segments of the protected rendition exist
    page.goto(server.base_url + "/#/review/cam1")
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_have_count(1, timeout=10_000)
    expect(page.get_by_test_id("timeline-span").first).to_be_attached(timeout=15_000)
    page.get_by_test_id("play").click()
    player = page.locator('[data-testid="sync-player"] video')
    expect(player).to_have_count(1, timeout=10_000)
    page.wait_for_function(
        "() => { const v = document.querySelector('[data-testid=sync-player] video');"
        " return v && v.currentTime > 1.0 && v.videoWidth > 0; }",
        timeout=30_000,
    )
    start = page.evaluate("() => document.querySelector('[data-testid=sync-player] video').currentTime")
    page.wait_for_function(
        "(s) => document.querySelector('[data-testid=sync-player] video').currentTime > s + 0.5", arg=start
    )
    clock = int(page.get_by_test_id("review-clock").get_attribute("data-wall-ms") or "0")
    assert clock > 0

    # Two cameras play in sync on one clock.
    page.locator('[data-testid="review-camera"][data-camera-id="cam3"]').check()
    expect(page.get_by_test_id("timeline")).to_have_count(2, timeout=10_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=sync-player] video')]"
        ".filter(v => v.currentTime > 0.5 && !v.paused && v.readyState >= 3 && v.videoWidth > 0)"
        ".length === 2",
        timeout=30_000,
    )
    page.wait_for_timeout(500)
    _shot(page, "console-review.png")

    page.get_by_test_id("pause").click()
    # Previous event: the clock jumps back to the start of an event of one of the cameras (motion events of
    # the walker in the test footage).
    expect(page.locator(".timeline-event").first).to_be_attached()
    bar = page.get_by_test_id("timeline").first
    box = bar.bounding_box()
    assert box is not None
    paused_at = page.get_by_test_id("review-clock").get_attribute("data-wall-ms") or ""
    bar.click(position={"x": box["width"] - 1, "y": box["height"] / 2})  # the newest recorded moment
    expect(page.get_by_test_id("review-clock")).not_to_have_attribute("data-wall-ms", paused_at)
    before = int(page.get_by_test_id("review-clock").get_attribute("data-wall-ms") or "0")
    page.get_by_test_id("prev-event").click()
    expect(page.get_by_test_id("review-clock")).not_to_have_attribute("data-wall-ms", str(before))
    after = int(page.get_by_test_id("review-clock").get_attribute("data-wall-ms") or "0")
    assert after < before
    page.get_by_test_id("export-reason").fill("e2e: gate incident review")
    page.get_by_test_id("export-clip").click()
    link = page.get_by_test_id("export-download")
    expect(link).to_be_visible(timeout=30_000)
    with page.expect_download() as download_info:
        link.click()
    path = download_info.value.path()
    with zipfile.ZipFile(path) as bundle:
        names = bundle.namelist()
    assert any(name.endswith(".mp4") for name in names), names
    assert any("signature" in name or name.endswith(".sig") for name in names), names


def _seed_object_events(server: LiveServer) -> list[str]:
    """Two car events and a truck event with the camera's redacted snapshot as their best frame."""
    with server.client() as client:
        snapshot = client.get("/api/cameras/cam1/latest.jpg")
    assert snapshot.status_code == 200
    folder = Path(server.config_path).parent / "data"
    store = open_store(f"sqlite:///{folder / 'watchkeeper.db'}")
    now = utcnow()
    ids = []
    try:
        for index, object_class in enumerate(("car", "car", "truck")):
            event_id = f"e2e-{object_class}-{index}"
            at = now - timedelta(minutes=index + 1)
            event = Event(
                event_id,
                CameraId("cam1"),
                EventKind.OBJECT,
                at,
                at + timedelta(seconds=3),
                0.8,
                label=object_class,
                rule="enter-yard",
                zone="yard",
                object_class=object_class,
                best_at=at + timedelta(seconds=1),
            )
            store.events.upsert(event)
            path = event_snapshot_path(folder / "media", CameraId("cam1"), event_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(snapshot.content)
            ids.append(event_id)
    finally:
        store.close()
    return ids


@pytest.mark.browser
def test_search_by_class_lists_events_with_thumbnails(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    _seed_object_events(server)
    page.goto(server.base_url + "/#/search")
    page.get_by_test_id("search-class").fill("car")
    page.get_by_test_id("search-submit").click()
    results = page.get_by_test_id("search-result")
    expect(results).to_have_count(2, timeout=10_000)
    expect(results.first).to_contain_text("car")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=search-thumb]')]"
        ".filter(i => i.naturalWidth > 0).length === 2",
        timeout=10_000,
    )
    # Only the cameras inside the map view: zoomed on the cameras, all of them are in it.
    page.get_by_test_id("search-in-view").check()
    page.get_by_test_id("search-submit").click()
    expect(page.get_by_test_id("search-count")).to_contain_text("from 4 cameras")
    _shot(page, "console-search.png")

    # A drawn area around the southernmost camera (cam1) searches that camera only.
    page.get_by_test_id("search-in-view").uncheck()
    boxes = [
        m.bounding_box() for m in page.locator("[data-testid=search-map] path.leaflet-interactive").all()
    ]
    lowest = max((b for b in boxes if b is not None), key=lambda b: b["y"])
    x, y = lowest["x"] + lowest["width"] / 2, lowest["y"] + lowest["height"] / 2
    page.get_by_test_id("search-draw").click()
    for dx, dy in ((-40, -25), (40, -25), (0, 40)):
        page.mouse.click(x + dx, y + dy)
    page.get_by_test_id("search-draw").click()
    page.get_by_test_id("search-submit").click()
    expect(page.get_by_test_id("search-count")).to_contain_text("2 events from 1 camera")
    # "Review" opens the event's moment on the review page.
    results.first.get_by_role("button", name="Review").click()
    expect(page.get_by_test_id("review-clock")).not_to_have_attribute("data-wall-ms", "", timeout=10_000)
