"""No media or file endpoint serves anything outside the media root (or the console's assets).

Against a real ``watchkeeper serve``: index rows naming ``..`` paths, absolute paths and symlinks that leave
the media root; encoded ``..`` in URL paths; a snapshot that is a symlink to a file outside.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_for, write_test_config
from tests.security.conftest import SecureServer, launch, stop
from watchkeeper.domain import CameraId, Segment, utcnow
from watchkeeper.simulator import RtspServer
from watchkeeper.storage.factory import open_store

SECRET = b"TOP-SECRET-OUTSIDE-THE-MEDIA-ROOT"


@dataclass(frozen=True)
class Traversal:
    server: SecureServer
    client: httpx.Client
    media_root: Path
    good_id: int
    evil_ids: dict[str, int]


def _row(path: str, size: int) -> Segment:
    start = utcnow() - timedelta(seconds=30)
    return Segment(CameraId("cam1"), start, start + timedelta(seconds=1), path, size, "h264", 320, 180, 1)


@pytest.fixture(scope="module")
def traversal(sim_cameras: RtspServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traversal]:
    folder = tmp_path_factory.mktemp("traversal")
    outside = folder / "outside"
    outside.mkdir()
    (outside / "secret.mp4").write_bytes(SECRET)
    port = free_port()
    urls = {"cam1": sim_cameras.url("/cam1"), "cam2": f"rtsp://127.0.0.1:{free_port()}/nobody-home"}
    config = write_test_config(folder / "wk", urls, http_port=port)
    server = launch(config, port)
    client = server.login()
    try:
        segments = wait_for(
            lambda: client.get("/api/recordings", params={"camera_id": "cam1"}).json(),
            timeout=30,
            what="a first recorded segment",
        )
        assert isinstance(segments, list)
        media_root = config.parent / "data" / "media"
        (media_root / "cam1").mkdir(parents=True, exist_ok=True)
        (media_root / "cam1" / "evil-link.mp4").symlink_to(outside / "secret.mp4")
        (media_root / "linkdir").symlink_to(outside, target_is_directory=True)
        evil_paths = {
            "dotdot": "../../outside/secret.mp4",
            "deep-dotdot": "cam1/../../../outside/secret.mp4",
            "absolute": str(outside / "secret.mp4"),
            "etc-passwd": "/etc/passwd",
            "file-symlink": "cam1/evil-link.mp4",
            "dir-symlink": "linkdir/secret.mp4",
        }
        store = open_store(f"sqlite:///{config.parent / 'data' / 'watchkeeper.db'}")
        try:
            evil_ids = {}
            for name, path in evil_paths.items():
                added = store.segments.add(_row(path, len(SECRET)))
                assert added.id is not None
                evil_ids[name] = added.id
        finally:
            store.close()
        yield Traversal(server, client, media_root, int(segments[0]["id"]), evil_ids)
    finally:
        client.close()
        stop(server)


def _raw_get(base_url: str, path: str, cookie: str) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (no client-side normalisation of ``..`` or ``%2f``)."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path, headers={"Cookie": cookie})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_real_segment_is_served(traversal: Traversal) -> None:
    response = traversal.client.get(f"/api/recordings/{traversal.good_id}/media")
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"


@pytest.mark.parametrize("suffix", ["media", "media.mp4"])
@pytest.mark.parametrize(
    "name", ["dotdot", "deep-dotdot", "absolute", "etc-passwd", "file-symlink", "dir-symlink"]
)
def test_index_rows_pointing_outside_the_media_root_are_refused(
    traversal: Traversal, name: str, suffix: str
) -> None:
    response = traversal.client.get(f"/api/recordings/{traversal.evil_ids[name]}/{suffix}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert SECRET not in response.content
    assert b"root:" not in response.content


def test_a_snapshot_symlinked_outside_the_media_root_is_refused(traversal: Traversal) -> None:
    folder = traversal.media_root / "cam2"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "latest.jpg").symlink_to(traversal.media_root.parent.parent.parent / "outside" / "secret.mp4")
    response = traversal.client.get("/api/cameras/cam2/latest.jpg")
    assert response.status_code == 404
    assert SECRET not in response.content


@pytest.mark.parametrize(
    "path",
    [
        "/api/recordings/..%2f..%2f..%2fetc%2fpasswd/media",
        "/api/recordings/1%2f..%2f..%2fetc/media.mp4",
        "/api/recordings/%2e%2e%2f%2e%2e/media",
        "/api/recordings/-1/media",
        "/api/cameras/..%2f..%2f..%2fetc/latest.jpg",
        "/api/cameras/%2e%2e/latest.jpg",
        "/api/cameras/..%2Fcam1/clip.mp4?start=2024-01-01T00:00:00Z&end=2024-01-01T00:00:05Z",
        "/api/cameras/%2e%2e%2f%2e%2e/hls.m3u8?start=2024-01-01T00:00:00Z",
        "/assets/..%2f..%2f..%2fpyproject.toml",
        "/assets/../../../pyproject.toml",
        "/assets/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
        "/assets/..%5c..%5c..%5cpyproject.toml",
        "/assets//etc/passwd",
        "//etc/passwd",
        "/api/recordings/1/media/../../../../etc/passwd",
    ],
)
def test_encoded_traversal_in_url_paths_gets_nothing(traversal: Traversal, path: str) -> None:
    cookie = "; ".join(f"{name}={value}" for name, value in traversal.client.cookies.items())
    status, body = _raw_get(traversal.server.base_url, path, cookie)
    assert status in (400, 404, 405, 422), (status, body[:200])
    assert b"root:" not in body
    assert b"[build-system]" not in body
    assert SECRET not in body


@pytest.mark.parametrize("segment_id", [2**63, 2**70, -(2**70), 0])
def test_out_of_range_segment_ids_are_422_not_500(traversal: Traversal, segment_id: int) -> None:
    for suffix in ("media", "media.mp4"):
        response = traversal.client.get(f"/api/recordings/{segment_id}/{suffix}")
        assert response.status_code == 422, (suffix, response.text)
        assert response.json()["error"]["code"] == "invalid_request"
