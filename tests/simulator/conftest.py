"""Fixtures of the simulator tests: a small clip and a running RTSP server on a free port."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from watchkeeper.simulator import EncodedClip, FootageSpec, RtspServer, generate_clip

SMALL_SPEC = FootageSpec(width=320, height=180, fps=20, duration_s=3.0, keyframe_interval=10, seed=7)


@pytest.fixture(scope="session")
def small_clip() -> EncodedClip:
    return generate_clip(SMALL_SPEC)


@pytest.fixture
def rtsp_server(small_clip: EncodedClip) -> Iterator[RtspServer]:
    """A server with /cam1 and /cam2 on a free loopback port; checks it leaves no thread behind."""
    before = {t.ident for t in threading.enumerate()}
    server = RtspServer({"/cam1": small_clip, "cam2": small_clip})
    with server:
        yield server
    leaked = [t for t in threading.enumerate() if t.ident not in before and t.name == "rtsp-sim"]
    assert not leaked
