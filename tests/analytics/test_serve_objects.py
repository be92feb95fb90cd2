"""End to end: ``watchkeeper serve`` on real footage raises a zone event with a redacted snapshot."""

from __future__ import annotations

from pathlib import Path

import av
import httpx
import pytest
import yaml

from tests.analyzers.detect.conftest import VTEST, require_file
from tests.conftest import free_port, start_server, stop_server, wait_for, write_test_config
from watchkeeper.analyzers.detect import builtin_model_path


@pytest.fixture(scope="module")
def plaza_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s of vtest.avi re-encoded as H.264 (384x288, 10 fps, keyframe every second) so it can be recorded."""
    require_file(VTEST, "test footage")
    require_file(builtin_model_path(), "the built-in detector model")
    path = tmp_path_factory.mktemp("plaza") / "plaza.mp4"
    with av.open(str(VTEST)) as source, av.open(str(path), "w") as sink:
        stream = sink.add_stream("libx264", rate=10, options={"g": "10", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 384, 288, "yuv420p"
        for index, frame in enumerate(source.decode(video=0)):
            if index >= 80:
                break
            picture = frame.reformat(width=384, height=288, format="yuv420p")
            picture.pts = None
            for packet in stream.encode(picture):
                sink.mux(packet)
        for packet in stream.encode(None):
            sink.mux(packet)
    return path


def test_serve_raises_zone_events_with_snapshots(plaza_mp4: Path, tmp_path: Path) -> None:
    port = free_port()
    config_path = write_test_config(tmp_path, {"plaza": str(plaza_mp4)}, http_port=port)
    document = yaml.safe_load(config_path.read_text())
    camera = document["cameras"][0]
    camera["zones"] = [{"name": "square", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}]
    camera["rules"] = [{"name": "people-in-square", "type": "enter", "zone": "square", "classes": ["person"]}]
    document["detection"]["objects"] = {"enabled": True}
    document["detection"]["tamper"] = {"enabled": False}
    config_path.write_text(yaml.safe_dump(document, sort_keys=False))
    server = start_server(config_path, port)
    try:
        client = server.client()

        def zone_events() -> list[dict[str, object]]:
            response = client.get("/api/events", params={"kind": "zone", "object_class": "person"})
            response.raise_for_status()
            return [event for event in response.json() if event["rule"] == "people-in-square"]

        events = wait_for(zone_events, timeout=40, what="a zone event for a person")
        assert isinstance(events, list)
        event = events[-1]
        assert event["zone"] == "square"
        assert event["track_id"] is not None

        def snapshot() -> httpx.Response | None:
            response = client.get(f"/api/events/{event['id']}/snapshot.jpg")
            return response if response.status_code == 200 else None

        response = wait_for(snapshot, timeout=10, what="the event snapshot")
        assert isinstance(response, httpx.Response)
        assert response.headers["content-type"] == "image/jpeg"
    finally:
        stop_server(server)
