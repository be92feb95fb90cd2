"""Simulated cameras that show real footage: any video file re-encoded into a loop for the RTSP server.

:func:`clip_from_file` decodes a video with PyAV (any codec FFmpeg reads, e.g. the MS-MPEG4 ``vtest.avi`` of
Debian's opencv-doc), scales it to the spec's size and rate, optionally mirrors it and starts the loop at an
offset (so two cameras fed from one file look different), and encodes it with the same deterministic x264
settings as :func:`~watchkeeper.simulator.footage.generate_clip`.

Encoding a minute of video takes seconds, so the result is cached on disk: ``<stem>-<key>.h264`` (the loop as
an Annex-B stream) and ``<stem>-<key>.json`` (how many NAL units each frame has), where ``key`` hashes the
source's bytes and every option. A second start reads the cache in milliseconds; a damaged cache entry is
re-encoded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from watchkeeper.simulator.errors import SimulatorError
from watchkeeper.simulator.footage import (
    NAL_PPS,
    NAL_SPS,
    AccessUnit,
    EncodedClip,
    FootageSpec,
    _ClipBuilder,
    _configure,
    split_annexb,
)

log = logging.getLogger(__name__)

CACHE_VERSION = 1
"""Bumped when the cached format or the encoding changes, so old cache entries are not reused."""

_NAL_IDR = 5


def clip_from_file(
    path: str | Path,
    spec: FootageSpec,
    *,
    start_s: float = 0.0,
    mirror: bool = False,
    cache_dir: str | Path | None = None,
) -> EncodedClip:
    """Turn a video file into a looping H.264 clip for the simulated cameras.

    The whole file becomes one loop (at most ``spec.duration_s`` seconds of it when the file is longer),
    rotated so that it starts ``start_s`` seconds in. Frames are scaled to ``spec.width`` x ``spec.height``
    and resampled to ``spec.fps``; ``spec.keyframe_interval`` and ``spec.crf`` drive the encoder. The
    returned clip's spec has the real duration and no synthetic walkers (``has_motion`` is always false).

    Args:
        path: The video file (anything FFmpeg decodes).
        spec: Output size, rate, GOP length and quality; ``duration_s`` caps the loop length.
        start_s: Where in the file the loop starts (taken modulo the loop length).
        mirror: Flip the picture left to right.
        cache_dir: Folder of the encoded-clip cache; ``None`` uses ``<file's folder>/clips``.

    Returns:
        The encoded loop; the same file and options always give the same bytes.

    Raises:
        SimulatorError: If the file cannot be read or decoded, has no video, or the encoder fails.
    """
    source = Path(path)
    if start_s < 0:
        raise SimulatorError(f"start_s must be >= 0, got {start_s}")
    key = _cache_key(source, spec, start_s, mirror)
    folder = Path(cache_dir) if cache_dir is not None else source.parent / "clips"
    stem = folder / f"{source.stem}-{key[:16]}"
    cached = _load(stem, key)
    if cached is not None:
        log.debug("footage cache hit %s", stem)
        return cached
    clip = _encode_file(source, spec, round(start_s * spec.fps), mirror)
    _store(stem, key, clip)
    return clip


def _cache_key(source: Path, spec: FootageSpec, start_s: float, mirror: bool) -> str:
    digest = hashlib.sha256()
    try:
        with source.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as err:
        raise SimulatorError(f"cannot read footage file {source}: {err}") from err
    options = {
        "version": CACHE_VERSION,
        "spec": dataclasses.asdict(spec),
        "start_s": start_s,
        "mirror": mirror,
        "av": av.__version__,
    }
    digest.update(json.dumps(options, sort_keys=True).encode())
    return digest.hexdigest()


_Rgb = np.ndarray[Any, np.dtype[np.uint8]]


def _resampled(source: Path, spec: FootageSpec) -> Iterator[_Rgb]:
    """Decode the file and yield RGB frames at ``spec``'s size and rate (at most ``spec.frame_count``)."""
    produced = 0
    try:
        with av.open(str(source)) as container:
            if not container.streams.video:
                raise SimulatorError(f"{source} has no video stream")
            for at, frame in _timed_frames(container, container.streams.video[0]):
                repeats = 0
                while produced + repeats < spec.frame_count and (produced + repeats) / spec.fps <= at + 1e-6:
                    repeats += 1
                if repeats:
                    scaled = frame.reformat(width=spec.width, height=spec.height, format="rgb24")
                    image = np.asarray(scaled.to_ndarray(), dtype=np.uint8)
                    for _ in range(repeats):
                        yield image
                    produced += repeats
                if produced >= spec.frame_count:
                    return
    except (av.FFmpegError, OSError, ValueError) as err:
        raise SimulatorError(f"cannot decode footage file {source}: {err}") from err


def _timed_frames(container: Any, stream: Any) -> Iterator[tuple[float, av.VideoFrame]]:
    """Yield (seconds from the first frame, frame) for every decoded frame of ``stream``."""
    first: float | None = None
    rate = float(stream.average_rate or 25)
    for index, frame in enumerate(container.decode(stream)):
        if frame.pts is not None and frame.time_base is not None:
            at = float(frame.pts * frame.time_base)
        else:
            at = index / rate
        first = at if first is None else first
        yield at - first, frame


class _Encoder:
    """Feeds RGB frames to libx264 with the simulator's deterministic settings."""

    def __init__(self, spec: FootageSpec, mirror: bool) -> None:
        self.spec = spec
        self.mirror = mirror
        self.ctx = av.CodecContext.create("libx264", "w")
        _configure(self.ctx, spec)
        self.builder = _ClipBuilder()
        self.count = 0

    def add(self, image: _Rgb) -> None:
        picture = image[:, ::-1] if self.mirror else image
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24").reformat(
            format="yuv420p"
        )
        frame.pts = self.count
        frame.time_base = Fraction(1, self.spec.fps)
        self.count += 1
        for packet in self.ctx.encode(frame):
            self.builder.add(packet)

    def finish(self) -> EncodedClip:
        for packet in self.ctx.encode(None):
            self.builder.add(packet)
        builder = self.builder
        if (
            not builder.sps
            or not builder.pps
            or len(builder.units) != self.count
            or not builder.units[0].keyframe
        ):
            raise SimulatorError("the encoder did not give SPS/PPS and one access unit per frame")
        spec = dataclasses.replace(self.spec, duration_s=self.count / self.spec.fps, walkers=0)
        return EncodedClip(spec=spec, sps=builder.sps, pps=builder.pps, access_units=tuple(builder.units))


def _encode_file(source: Path, spec: FootageSpec, offset: int, mirror: bool) -> EncodedClip:
    """Encode the file as a loop starting at frame ``offset`` (modulo its length): two decoding passes."""
    try:
        encoder = _Encoder(spec, mirror)
        total = 0
        for index, image in enumerate(_resampled(source, spec)):
            total = index + 1
            if index >= offset:
                encoder.add(image)
        if total == 0:
            raise SimulatorError(f"{source} has no decodable video frames")
        if offset >= total:
            offset %= total
            encoder = _Encoder(spec, mirror)
            for image in itertools.islice(_resampled(source, spec), offset, None):
                encoder.add(image)
        for image in itertools.islice(_resampled(source, spec), offset):
            encoder.add(image)
        return encoder.finish()
    except (av.FFmpegError, ValueError) as err:
        raise SimulatorError(f"could not encode the footage of {source}: {err}") from err


def _store(stem: Path, key: str, clip: EncodedClip) -> None:
    """Write the clip to the cache (atomically); a failure only costs the next start a re-encode."""
    meta = {
        "version": CACHE_VERSION,
        "key": key,
        "spec": dataclasses.asdict(clip.spec),
        "nal_counts": [len(unit.nals) for unit in clip.access_units],
    }
    try:
        stem.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(stem.with_suffix(".h264"), clip.annexb())
        _write_atomic(stem.with_suffix(".json"), json.dumps(meta).encode())
    except OSError as err:
        log.warning("cannot cache encoded footage in %s: %s", stem.parent, err)


def _write_atomic(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(target)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load(stem: Path, key: str) -> EncodedClip | None:
    """Read a cached clip; ``None`` when absent, stale or damaged."""
    meta_path, data_path = stem.with_suffix(".json"), stem.with_suffix(".h264")
    if not meta_path.is_file() or not data_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("version") != CACHE_VERSION or meta.get("key") != key:
            return None
        spec = FootageSpec(**meta["spec"])
        clip = _rebuild(spec, split_annexb(data_path.read_bytes()), [int(n) for n in meta["nal_counts"]])
    except (OSError, ValueError, KeyError, TypeError, SimulatorError) as err:
        log.warning("ignoring damaged footage cache %s: %s", stem, err)
        return None
    if clip is None:
        log.warning("ignoring damaged footage cache %s: frames do not match its metadata", stem)
    return clip


def _rebuild(spec: FootageSpec, nals: list[bytes], counts: list[int]) -> EncodedClip | None:
    """Regroup an Annex-B stream's NAL units into access units using the per-frame counts."""
    sps = next((nal for nal in nals if nal[0] & 0x1F == NAL_SPS), b"")
    pps = next((nal for nal in nals if nal[0] & 0x1F == NAL_PPS), b"")
    frames = [nal for nal in nals if nal[0] & 0x1F not in (NAL_SPS, NAL_PPS)]
    if not sps or not pps or sum(counts) != len(frames) or len(counts) != spec.frame_count:
        return None
    units: list[AccessUnit] = []
    position = 0
    for index, count in enumerate(counts):
        group = tuple(frames[position : position + count])
        position += count
        keyframe = any(nal[0] & 0x1F == _NAL_IDR for nal in group)
        units.append(AccessUnit(index=index, keyframe=keyframe, nals=group))
    if not units or not units[0].keyframe:
        return None
    return EncodedClip(spec=spec, sps=sps, pps=pps, access_units=tuple(units))
