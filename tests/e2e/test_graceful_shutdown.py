"""SIGTERM stops ``watchkeeper serve`` cleanly: open segments are closed and indexed, nothing is left half."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import free_port, start_server, stop_server, wait_for, write_test_config
from watchkeeper.config.loader import load_config
from watchkeeper.domain import CameraId
from watchkeeper.simulator import RtspServer
from watchkeeper.storage.factory import open_store


def test_sigterm_closes_and_indexes_the_open_segment(sim_cameras: RtspServer, tmp_path: Path) -> None:
    port = free_port()
    # Long segments: at SIGTERM time a segment is certainly still open.
    config_path = write_test_config(
        tmp_path, {"cam1": sim_cameras.url("/cam1")}, http_port=port, segment_seconds=30
    )
    server = start_server(config_path, port)
    try:
        client = server.client()
        wait_for(
            lambda: client.get("/api/cameras").json()[0]["status"]["state"] == "streaming",
            timeout=20,
            what="camera streaming",
        )
        wait_for(
            lambda: list((tmp_path / "data" / "media").rglob("*.part")), timeout=10, what="an open segment"
        )
    finally:
        code = stop_server(server)
    log = server.log_text()
    assert code == 0, log
    assert "stopped" in log
    media = tmp_path / "data" / "media"
    assert not list(media.rglob("*.part")), "a segment was left half-written"
    config = load_config(config_path)
    store = open_store(config.storage.database_url.get_secret_value())
    try:
        segments = store.segments.list(CameraId("cam1"))
    finally:
        store.close()
    assert segments, "the segment open at SIGTERM was not indexed"
    for segment in segments:
        assert (media / segment.path).is_file()
