"""Fixtures of the end-to-end tests: a live server over two simulated RTSP cameras, and Debian Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LiveServer, free_port, start_server, stop_server, write_test_config
from tests.e2e.test_console_browser import CHROMIUM, CHROMIUM_FLAGS, _require_browser
from watchkeeper.simulator import RtspServer


@pytest.fixture(scope="module")
def live_server(sim_cameras: RtspServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    port = free_port()
    urls = {"cam1": sim_cameras.url("/cam1"), "cam2": sim_cameras.url("/cam2")}
    config = write_test_config(tmp_path_factory.mktemp("live"), urls, http_port=port)
    server = start_server(config, port)
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian Chromium through Playwright (headless, no sandbox); skips or fails when it is missing."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()
