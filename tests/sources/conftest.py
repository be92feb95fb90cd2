"""Fixtures of the source tests: a real HTTP media server and encoded test files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sources.media import HEVC_OPTIONS, MediaHttpServer, mjpeg_frames, write_video


@pytest.fixture(scope="session")
def media_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """H.264, HEVC (libx265) and VP8 (libvpx, not recordable in MP4) test files, 3 s at 10 fps."""
    folder = tmp_path_factory.mktemp("media")
    return {
        "h264": write_video(folder / "h264.mp4", "libx264", options={"preset": "ultrafast", "bf": "0"}),
        "hevc": write_video(folder / "hevc.mp4", "libx265", options=HEVC_OPTIONS),
        "vp8": write_video(folder / "vp8.mkv", "libvpx", options={"deadline": "realtime"}),
    }


@pytest.fixture
def media_server(media_files: dict[str, Path]) -> Iterator[MediaHttpServer]:
    """A live MJPEG camera and the test files over HTTP."""
    server = MediaHttpServer(mjpeg_frames(), {name: path.read_bytes() for name, path in media_files.items()})
    try:
        yield server
    finally:
        server.close()
