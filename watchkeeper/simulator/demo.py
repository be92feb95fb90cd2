"""The footage of ``watchkeeper demo``: real pedestrians on two cameras when the test footage is available.

``make models`` fetches ``vtest.avi`` (Debian's opencv-doc: people crossing a university plaza, 768x576,
10 fps, 79.5 s) into ``var/cache/footage``. When it is there, the demo shows it on two cameras:
``/cam1`` starts 48 s into the file (people crossing the lawn within seconds) and ``/cam3`` is mirrored and
starts 15 s in (people walking along the taped-off area), so the two views differ. The zones of
``examples/demo.yaml`` are drawn for exactly these views. The other cameras show synthetic footage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchkeeper.simulator.file_clips import clip_from_file
from watchkeeper.simulator.footage import EncodedClip, FootageSpec

PLAZA_FOOTAGE = Path("var/cache/footage/vtest.avi")
"""Where ``make models`` puts the plaza footage, relative to the repository root."""

PLAZA_CACHE = Path("var/cache/demo")
"""Where the encoded plaza views are cached, relative to the repository root."""

PLAZA_SPEC = FootageSpec(width=640, height=480, fps=10, duration_s=600.0, keyframe_interval=10, crf=26)
"""Encoding of the plaza views: 640x480 at 10 fps, a keyframe per second, the whole file as one loop."""


@dataclass(frozen=True, slots=True)
class PlazaView:
    """One simulated camera cut from the plaza footage.

    Attributes:
        path: RTSP path, e.g. ``/cam1``.
        start_s: Where in the footage the camera's loop starts.
        mirror: Whether the picture is flipped left to right.
    """

    path: str
    start_s: float
    mirror: bool


def plaza_views() -> tuple[PlazaView, ...]:
    """The demo cameras that show the plaza footage (``/cam1`` as filmed, ``/cam3`` mirrored)."""
    return (PlazaView("/cam1", start_s=48.0, mirror=False), PlazaView("/cam3", start_s=15.0, mirror=True))


def plaza_clips(
    footage: Path,
    cache_dir: Path,
    *,
    count: int = 4,
    on_view: Callable[[PlazaView], None] | None = None,
) -> dict[str, EncodedClip]:
    """Encode (or read from the cache) the plaza views among the first ``count`` cameras.

    Args:
        footage: The plaza video (``vtest.avi``).
        cache_dir: Cache of encoded views; the first run takes seconds per view, later runs milliseconds.
        count: Number of demo cameras; views on paths beyond ``/cam<count>`` are left out.
        on_view: Called before each view is prepared (for progress display).

    Returns:
        Clips keyed by path, ready for ``serve_simulated_cameras(clips=...)``.

    Raises:
        SimulatorError: If the footage cannot be decoded or encoded.
    """
    wanted = {f"/cam{i}" for i in range(1, count + 1)}
    clips: dict[str, EncodedClip] = {}
    for view in plaza_views():
        if view.path not in wanted:
            continue
        if on_view is not None:
            on_view(view)
        clips[view.path] = clip_from_file(
            footage, PLAZA_SPEC, start_s=view.start_s, mirror=view.mirror, cache_dir=cache_dir
        )
    return clips
