"""Ready-made simulated cameras for tests and for ``watchkeeper simulate`` (``make demo``).

:func:`serve_simulated_cameras` generates ``count`` clips (one seed per camera so each shows a different
street) and serves them on ``/cam1`` ... ``/camN`` of one :class:`RtspServer`; :func:`run_forever` does the
same until interrupted, for the demo CLI. Both take ``clips`` to serve given footage (for example real footage
from :func:`~watchkeeper.simulator.file_clips.clip_from_file`) on some paths; the other paths get synthetic
footage.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from watchkeeper.simulator.errors import SimulatorError
from watchkeeper.simulator.footage import EncodedClip, FootageSpec, generate_clip
from watchkeeper.simulator.rtsp_server import Credentials, RtspServer

log = logging.getLogger(__name__)

DEFAULT_RTSP_PORT = 8554
"""Port the demo cameras listen on (the conventional unprivileged RTSP port)."""


def simulated_clips(
    count: int, spec: FootageSpec | None = None, *, clips: Mapping[str, EncodedClip] | None = None
) -> dict[str, EncodedClip]:
    """The footage of ``count`` cameras, keyed ``/cam1`` ... ``/camN``: given clips, synthetic for the rest.

    Args:
        count: Number of cameras (>= 1).
        spec: Footage spec of the first camera; camera ``i`` uses ``spec.seed + i - 1``.
        clips: Footage to serve instead of synthetic footage, keyed by path (``/cam1`` or ``cam1``); paths
            beyond ``/camN`` are served too.

    Returns:
        Clips keyed by path.

    Raises:
        SimulatorError: If ``count`` is below 1 or the footage cannot be encoded.
    """
    if count < 1:
        raise SimulatorError(f"need at least one simulated camera, got {count}")
    base = spec or FootageSpec()
    given = {"/" + path.strip("/"): clip for path, clip in (clips or {}).items()}
    result: dict[str, EncodedClip] = {}
    for i in range(1, count + 1):
        path = f"/cam{i}"
        chosen = given.pop(path, None)
        result[path] = chosen or generate_clip(dataclasses.replace(base, seed=base.seed + i - 1))
    result.update(given)
    return result


@contextmanager
def serve_simulated_cameras(
    count: int = 4,
    spec: FootageSpec | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    credentials: Credentials | None = None,
    clips: Mapping[str, EncodedClip] | None = None,
) -> Iterator[RtspServer]:
    """Serve ``count`` simulated cameras for the duration of a ``with`` block.

    Args:
        count: Number of cameras, served on ``/cam1`` ... ``/camN``.
        spec: Footage spec (see :func:`simulated_clips`); defaults to 640x360 at 10 fps, 20 s loops.
        host: Address to bind.
        port: Port to bind; 0 picks a free one (read it from ``server.port``).
        credentials: Optional credentials every client must present.
        clips: Footage per path served instead of synthetic footage (see :func:`simulated_clips`).

    Yields:
        The running server; ``server.url("/cam1")`` gives a camera's URL.
    """
    server = RtspServer(
        simulated_clips(count, spec, clips=clips), host=host, port=port, credentials=credentials
    )
    with server:
        yield server


def run_forever(
    count: int = 4,
    spec: FootageSpec | Mapping[str, EncodedClip] | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_RTSP_PORT,
    credentials: Credentials | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Serve simulated cameras until ``stop`` is set or the process is interrupted (Ctrl+C).

    Args:
        count: Number of cameras.
        spec: Footage spec of the synthetic cameras, or clips per path to serve (for example real footage
            from :func:`~watchkeeper.simulator.file_clips.clip_from_file`), synthetic footage on the other
            paths of ``/cam1`` ... ``/camN``.
        host: Address to bind (``0.0.0.0`` to reach them from other machines).
        port: Port to bind.
        credentials: Optional credentials every client must present.
        stop: Event that ends the serving when set; without it only an interrupt does.
    """
    done = stop or threading.Event()
    clips = None if spec is None or isinstance(spec, FootageSpec) else spec
    synthetic = spec if isinstance(spec, FootageSpec) else None
    cameras = serve_simulated_cameras(
        count, synthetic, host=host, port=port, credentials=credentials, clips=clips
    )
    with cameras as server:
        for path, url in server.urls().items():
            log.info("simulated camera %s: %s", path, url)
        try:
            while not done.wait(0.5):
                pass
        except KeyboardInterrupt:
            log.info("stopping simulated cameras")
