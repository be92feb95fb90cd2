"""A live server over two simulated RTSP cameras, shared by the end-to-end tests of a module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import LiveServer, free_port, start_server, stop_server, write_test_config
from watchkeeper.simulator import RtspServer


@pytest.fixture(scope="module")
def live_server(sim_cameras: RtspServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    port = free_port()
    urls = {"cam1": sim_cameras.url("/cam1"), "cam2": sim_cameras.url("/cam2")}
    config = write_test_config(tmp_path_factory.mktemp("live"), urls, http_port=port)
    server = start_server(config, port)
    yield server
    stop_server(server)
