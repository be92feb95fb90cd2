"""Benchmark footage with sparse, real activity: the plaza of vtest.avi, empty most of the time.

``vtest.avi`` (Debian's opencv-doc, fetched by ``make models`` into ``var/cache/footage/``) always has people
walking, so on its own it cannot give "activity in ~10 % of frames". :func:`activity_footage` builds a loop
from it: the empty plaza (the per-pixel temporal median of the whole file, which removes the walkers) held
still for most of the loop, then a few seconds of the real footage, in which several people are crossing.
The cut from the empty plaza to the people is abrupt (people appear), which is what an ``enter`` rule on the
plaza zone then reports. The picture is cropped to 16:9 (rows 72-503 of 576) so that the 1080p main stream
and the 640x360 substream are not stretched.

The composed loop is written once (H.264, CRF 12, 768x432) to ``var/cache/bench/`` and then turned into
simulator clips with :func:`watchkeeper.simulator.clip_from_file` (which caches its own encodes).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
VTEST = ROOT / "var/cache/footage/vtest.avi"
CACHE = ROOT / "var/cache/bench"
CROP_TOP, CROP_ROWS = 72, 432

PLAZA_ZONE = [[0.0, 0.3], [1.0, 0.3], [1.0, 1.0], [0.0, 1.0]]
"""The paved plaza and the lawn in front of it (normalized; bottom-centre anchor): where the people walk."""


@dataclass(frozen=True, slots=True)
class ActivityFootage:
    """A composed loop: ``path`` at ``fps``; people visible in frames ``active_start`` to the end."""

    path: Path
    fps: int
    frames: int
    active_start: int

    @property
    def active_fraction(self) -> float:
        """Share of the loop's frames that show people."""
        return (self.frames - self.active_start) / self.frames


def _vtest_frames() -> list[np.ndarray]:
    if not VTEST.is_file():
        raise SystemExit(f"{VTEST} is missing: run `make models` (it fetches the plaza footage)")
    with av.open(str(VTEST)) as container:
        return [
            frame.to_ndarray(format="rgb24")[CROP_TOP : CROP_TOP + CROP_ROWS]
            for frame in container.decode(container.streams.video[0])
        ]


def activity_footage(
    loop_s: float = 60.0, active_s: float = 6.0, section_s: float = 48.0, fps: int = 15
) -> ActivityFootage:
    """The empty plaza for ``loop_s - active_s`` seconds, then vtest from ``section_s`` for ``active_s``."""
    frames = round(loop_s * fps)
    active = round(active_s * fps)
    path = CACHE / f"plaza-activity-{loop_s:g}-{active_s:g}-{section_s:g}-{fps}.mp4"
    footage = ActivityFootage(path, fps, frames, frames - active)
    if path.is_file():
        return footage
    source = _vtest_frames()
    empty = np.median(np.stack(source[::4]), axis=0).astype(np.uint8)
    rate = 10.0  # vtest.avi's frame rate
    pictures = [empty] * (frames - active) + [
        source[min(len(source) - 1, int((section_s + index / fps) * rate))] for index in range(active)
    ]
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part.mp4")
    with av.open(str(partial), "w") as output:
        stream = output.add_stream("libx264", rate=fps, options={"crf": "12", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = empty.shape[1], empty.shape[0], "yuv420p"
        for index, picture in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    partial.replace(path)
    return footage
