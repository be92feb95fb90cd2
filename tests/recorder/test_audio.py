"""Audio: AAC passes through into the segments untouched; other codecs are dropped with a logged reason."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from watchkeeper.domain import CameraId, Segment
from watchkeeper.recorder.segmenter import Segmenter, SegmenterSettings
from watchkeeper.sources import PyAVSource, SourceSpec


def _write_av_file(path: Path, audio_codec: str, container_format: str) -> Path:
    """Two seconds of H.264 video (keyframe each second) with a 440 Hz tone in ``audio_codec``."""
    with av.open(str(path), "w", format=container_format) as out:
        video = out.add_stream("libx264", rate=10, options={"g": "10", "bf": "0", "preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = 160, 96, "yuv420p"
        audio = out.add_stream(audio_codec, rate=48000)
        audio.layout = "mono"
        samples_per_frame = audio.codec_context.frame_size or 1024
        t = 0
        for index in range(20):
            image = np.full((96, 160, 3), (index * 12) % 255, dtype=np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
            while t < (index + 1) * 4800:  # 0.1 s of audio per video frame
                tone = np.sin(2 * np.pi * 440 * (np.arange(samples_per_frame) + t) / 48000).astype(np.float32)
                frame = av.AudioFrame.from_ndarray(tone.reshape(1, -1), format="fltp", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = 48000, t, Fraction(1, 48000)
                for packet in audio.encode(frame):
                    out.mux(packet)
                t += samples_per_frame
        for stream in (video, audio):
            for packet in stream.encode():
                out.mux(packet)
    return path


def _record(clip: Path, root: Path) -> list[Segment]:
    segments: list[Segment] = []
    segmenter = Segmenter(SegmenterSettings(root, CameraId("cam1"), 1.0), segments.append)
    with PyAVSource(SourceSpec(url=str(clip), redacted_url=clip.name)).open() as opened:
        segmenter.begin(opened)
        for item in opened.packets():
            segmenter.write(item)
        segmenter.finish()
    return segments


def test_aac_audio_passes_through_without_re_encoding(tmp_path: Path) -> None:
    clip = _write_av_file(tmp_path / "with-aac.mp4", "aac", "mp4")
    segments = _record(clip, tmp_path / "media")
    assert segments
    assert all(s.audio_codec == "aac" for s in segments)
    with av.open(str(tmp_path / "media" / segments[0].path)) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
        assert container.streams.audio[0].codec_context.name == "aac"
        assert container.streams.audio[0].sample_rate == 48000
        samples = sum(frame.samples for frame in container.decode(audio=0))
    assert samples > 0.5 * 48000  # about a second of sound in a one-second segment


def test_other_audio_codecs_are_dropped_with_a_logged_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clip = _write_av_file(tmp_path / "with-mp2.ts", "mp2", "mpegts")
    with caplog.at_level(logging.INFO, logger="watchkeeper.recorder.segmenter"):
        segments = _record(clip, tmp_path / "media")
    assert segments
    assert all(s.audio_codec is None for s in segments)
    with av.open(str(tmp_path / "media" / segments[0].path)) as container:
        assert [s.type for s in container.streams] == ["video"]
    assert "audio codec mp2 is not AAC; recording video only" in caplog.text
