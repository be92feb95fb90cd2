"""Deterministic synthetic H.264 footage for the simulated cameras.

The scene is a static street: a sky gradient, a row of buildings with lit windows and a road, all drawn from
a seed so the same :class:`FootageSpec` always gives the same picture. During part of each loop one or more
"walkers" (bright, person-sized blobs) cross the frame; the rest of the loop is a quiet stretch with no moving
object, so a simple motion detector sees motion in some seconds and none in others. Which frames carry motion
is exposed by :meth:`FootageSpec.has_motion` so tests can check analyzers against ground truth.

Frames are encoded with libx264 (ultrafast, zerolatency, no B-frames, one thread, fixed GOP) so the output
is byte-for-byte reproducible. :func:`generate_clip` returns the raw access units (NAL units without start
codes, parameter sets split out) ready for RTP packetization; :func:`write_mp4` writes the same footage as a
plain MP4 file for file-source tests.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from av.video.codeccontext import VideoCodecContext

from watchkeeper.simulator.errors import SimulatorError

RTP_CLOCK_HZ = 90_000
"""RTP clock rate of H.264 video (RFC 6184)."""

NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9
NAL_IDR = 5

_Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class FootageSpec:
    """What footage to synthesize.

    Attributes:
        width: Frame width in pixels (even).
        height: Frame height in pixels (even).
        fps: Frames per second (integer).
        duration_s: Length of one loop in seconds.
        keyframe_interval: Frames between IDR frames (the GOP length).
        seed: Seed of the background layout and walker colours.
        walkers: Number of moving blobs crossing the frame during the motion window.
        motion_start: Start of the motion window, as a fraction of the loop (0..1).
        motion_end: End of the motion window, as a fraction of the loop (0..1).
        crf: x264 constant rate factor (higher is smaller and blurrier).
    """

    width: int = 640
    height: int = 360
    fps: int = 10
    duration_s: float = 20.0
    keyframe_interval: int = 10
    seed: int = 0
    walkers: int = 1
    motion_start: float = 0.25
    motion_end: float = 0.65
    crf: int = 28

    def __post_init__(self) -> None:
        """Reject specs that cannot be encoded."""
        if self.width < 32 or self.height < 32 or self.width % 2 or self.height % 2:
            raise SimulatorError(
                f"frame size must be even and at least 32x32, got {self.width}x{self.height}"
            )
        if not 1 <= self.fps <= 120:
            raise SimulatorError(f"fps must be between 1 and 120, got {self.fps}")
        if self.duration_s <= 0 or self.frame_count < 1:
            raise SimulatorError(f"duration must give at least one frame, got {self.duration_s} s")
        if self.keyframe_interval < 1:
            raise SimulatorError(f"keyframe_interval must be >= 1, got {self.keyframe_interval}")
        if not 0.0 <= self.motion_start <= self.motion_end <= 1.0:
            raise SimulatorError("motion window must satisfy 0 <= motion_start <= motion_end <= 1")
        if self.walkers < 0:
            raise SimulatorError(f"walkers must be >= 0, got {self.walkers}")

    @property
    def frame_count(self) -> int:
        """Number of frames in one loop."""
        return round(self.duration_s * self.fps)

    @property
    def motion_start_frame(self) -> int:
        """First frame (inclusive) of the motion window."""
        return round(self.motion_start * self.frame_count)

    @property
    def motion_end_frame(self) -> int:
        """Last frame (exclusive) of the motion window."""
        return round(self.motion_end * self.frame_count)

    def has_motion(self, frame_index: int) -> bool:
        """Whether a walker moves in frame ``frame_index`` (taken modulo the loop length)."""
        index = frame_index % self.frame_count
        return self.walkers > 0 and self.motion_start_frame <= index < self.motion_end_frame

    def pts_90k(self, frame_index: int) -> int:
        """Presentation time of frame ``frame_index`` (may exceed one loop) on the 90 kHz RTP clock."""
        return frame_index * RTP_CLOCK_HZ // self.fps


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """One encoded frame.

    Attributes:
        index: Frame index within the loop (0-based).
        keyframe: True for IDR frames (decodable on their own after SPS/PPS).
        nals: The frame's NAL units, without start codes and without SPS/PPS/SEI/AUD.
    """

    index: int
    keyframe: bool
    nals: tuple[bytes, ...]

    def annexb(self) -> bytes:
        """The access unit as an Annex-B byte stream (4-byte start codes)."""
        return b"".join(b"\x00\x00\x00\x01" + nal for nal in self.nals)

    @property
    def size(self) -> int:
        """Total payload size in bytes."""
        return sum(len(nal) for nal in self.nals)


@dataclass(frozen=True, slots=True)
class EncodedClip:
    """A loop of H.264 footage, split into parameter sets and access units.

    Attributes:
        spec: The spec the clip was generated from.
        sps: The sequence parameter set NAL unit (no start code).
        pps: The picture parameter set NAL unit (no start code).
        access_units: One entry per frame, in decode (= presentation) order.
    """

    spec: FootageSpec
    sps: bytes
    pps: bytes
    access_units: tuple[AccessUnit, ...] = field(repr=False)

    @property
    def profile_level_id(self) -> str:
        """The SDP ``profile-level-id`` (hex of profile_idc, constraint flags, level_idc)."""
        return self.sps[1:4].hex().upper()

    @property
    def sprop_parameter_sets(self) -> str:
        """The SDP ``sprop-parameter-sets`` value (base64 SPS, base64 PPS)."""
        return ",".join(base64.b64encode(nal).decode("ascii") for nal in (self.sps, self.pps))

    @property
    def keyframe_indices(self) -> tuple[int, ...]:
        """Indices of the IDR frames."""
        return tuple(au.index for au in self.access_units if au.keyframe)

    def annexb(self) -> bytes:
        """The whole loop as an Annex-B stream with SPS/PPS before every IDR frame."""
        header = b"\x00\x00\x00\x01" + self.sps + b"\x00\x00\x00\x01" + self.pps
        return b"".join((header if au.keyframe else b"") + au.annexb() for au in self.access_units)


def split_annexb(data: bytes) -> list[bytes]:
    """Split an Annex-B byte stream into NAL units (start codes removed).

    Args:
        data: Bytes with 3- or 4-byte start codes.

    Returns:
        The NAL units in order; empty units are dropped.
    """
    nals: list[bytes] = []
    starts: list[tuple[int, int]] = []
    pos = data.find(b"\x00\x00\x01")
    while pos >= 0:
        starts.append((pos, pos + 3))
        pos = data.find(b"\x00\x00\x01", pos + 3)
    for i, (_, payload_start) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(data)
        nal = data[payload_start:end].rstrip(b"\x00") if i + 1 < len(starts) else data[payload_start:end]
        if nal:
            nals.append(nal)
    return nals


def _background(spec: FootageSpec) -> _Image:
    """Draw the static street scene for ``spec`` (deterministic in ``spec.seed``)."""
    rng = np.random.default_rng(spec.seed)
    h, w = spec.height, spec.width
    horizon = int(h * 0.62)
    img = np.zeros((h, w, 3), dtype=np.float32)
    sky_top = np.array([70.0, 110.0, 170.0]) + rng.uniform(-20, 20, 3)
    sky_bottom = np.array([180.0, 200.0, 215.0])
    ramp = np.linspace(0.0, 1.0, horizon, dtype=np.float32)[:, None, None]
    img[:horizon] = sky_top * (1 - ramp) + sky_bottom * ramp
    img[horizon:] = np.array([85.0, 85.0, 90.0])
    img[
        horizon + (h - horizon) // 2 : horizon + (h - horizon) // 2 + max(2, h // 120), :: max(8, w // 16)
    ] = 230
    x = 0
    while x < w:
        bw = int(rng.integers(w // 12, w // 5))
        bh = int(rng.integers(h // 6, int(horizon * 0.85)))
        colour = rng.uniform(60, 170, 3)
        img[horizon - bh : horizon, x : x + bw] = colour
        for wy in range(horizon - bh + 6, horizon - 10, 14):
            for wx in range(x + 5, x + bw - 8, 12):
                if rng.random() < 0.55:
                    img[wy : wy + 6, wx : wx + 5] = (235, 220, 140)
        x += bw + int(rng.integers(2, max(3, w // 40)))
    img += rng.normal(0.0, 3.0, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _draw_walkers(img: _Image, spec: FootageSpec, index: int) -> None:
    """Draw the walkers of frame ``index`` onto ``img`` in place."""
    if not spec.has_motion(index):
        return
    span = max(1, spec.motion_end_frame - spec.motion_start_frame)
    progress = (index % spec.frame_count - spec.motion_start_frame) / span
    h, w = spec.height, spec.width
    body_h, body_w = max(8, h // 5), max(4, w // 24)
    for k in range(spec.walkers):
        direction = 1 if k % 2 == 0 else -1
        phase = (progress + k * 0.17) % 1.0
        centre = int(-body_w + phase * (w + 2 * body_w))
        cx = centre if direction > 0 else w - centre
        foot = int(h * 0.95) - k * (h // 12)
        top = max(0, foot - body_h)
        left, right = max(0, cx - body_w // 2), min(w, cx + body_w // 2)
        if right <= left:
            continue
        colour = (230, 40 + 50 * (k % 3), 30 + 60 * (k % 2))
        img[top:foot, left:right] = colour
        head = max(0, top - body_w)
        img[head:top, max(0, left + 1) : max(left + 1, right - 1)] = (240, 200, 170)


def _frames(spec: FootageSpec) -> Iterator[av.VideoFrame]:
    """Yield the ``yuv420p`` frames of one loop with pts = frame index."""
    background = _background(spec)
    for index in range(spec.frame_count):
        img = background.copy()
        _draw_walkers(img, spec, index)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        frame.time_base = Fraction(1, spec.fps)
        yield frame


def _x264_options(spec: FootageSpec) -> dict[str, str]:
    """Encoder options that make libx264 fast and byte-for-byte reproducible."""
    gop = spec.keyframe_interval
    params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:open-gop=0:threads=1:sliced-threads=0"
    return {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "crf": str(spec.crf),
        "threads": "1",
        "x264-params": params,
    }


def _configure(ctx: VideoCodecContext, spec: FootageSpec) -> None:
    """Apply size, rate and GOP settings of ``spec`` to an H.264 encoder context."""
    ctx.width = spec.width
    ctx.height = spec.height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, spec.fps)
    ctx.framerate = Fraction(spec.fps, 1)
    ctx.gop_size = spec.keyframe_interval
    ctx.max_b_frames = 0
    ctx.thread_count = 1
    ctx.options = _x264_options(spec)


class _ClipBuilder:
    """Collects encoder packets into access units, splitting out the parameter sets."""

    def __init__(self) -> None:
        self.sps = b""
        self.pps = b""
        self.units: list[AccessUnit] = []

    def add(self, packet: av.Packet[Any]) -> None:
        nals: list[bytes] = []
        keyframe = False
        for nal in split_annexb(bytes(packet)):
            kind = nal[0] & 0x1F
            if kind == NAL_SPS:
                self.sps = self.sps or nal
            elif kind == NAL_PPS:
                self.pps = self.pps or nal
            elif kind not in (NAL_SEI, NAL_AUD):
                keyframe = keyframe or kind == NAL_IDR
                nals.append(nal)
        if nals:
            self.units.append(AccessUnit(index=len(self.units), keyframe=keyframe, nals=tuple(nals)))


def generate_clip(spec: FootageSpec) -> EncodedClip:
    """Synthesize and encode one loop of footage.

    Args:
        spec: What to draw and how to encode it.

    Returns:
        The encoded loop; identical specs give identical bytes.

    Raises:
        SimulatorError: If libx264 is unavailable or the encoder output is unusable.
    """
    try:
        ctx = av.CodecContext.create("libx264", "w")
        _configure(ctx, spec)
        builder = _ClipBuilder()
        for frame in _frames(spec):
            for packet in ctx.encode(frame):
                builder.add(packet)
        for packet in ctx.encode(None):
            builder.add(packet)
    except (av.FFmpegError, ValueError) as err:
        raise SimulatorError(f"could not encode synthetic footage: {err}") from err
    if not builder.sps or not builder.pps or len(builder.units) != spec.frame_count:
        raise SimulatorError("encoder did not produce SPS/PPS and one access unit per frame")
    if not builder.units[0].keyframe:
        raise SimulatorError("encoded footage does not start with a keyframe")
    return EncodedClip(spec=spec, sps=builder.sps, pps=builder.pps, access_units=tuple(builder.units))


def write_mp4(spec: FootageSpec, path: str | Path) -> Path:
    """Write one loop of the footage of ``spec`` as a plain MP4 file.

    Args:
        spec: What to draw and how to encode it.
        path: Destination file (overwritten).

    Returns:
        The path written.

    Raises:
        SimulatorError: If the file cannot be written.
    """
    target = Path(path)
    try:
        with av.open(str(target), "w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=spec.fps)
            _configure(stream.codec_context, spec)
            for frame in _frames(spec):
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    except (av.FFmpegError, OSError, ValueError) as err:
        raise SimulatorError(f"could not write {target}: {err}") from err
    return target
