"""Spans and gaps of a recording merged at a resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from watchkeeper.domain import CameraId, Segment
from watchkeeper.recorder.timeline import Span, bucket_count, build_timeline, default_resolution_s

T0 = datetime(2026, 11, 25, tzinfo=UTC)


def _seg(start_s: float, end_s: float) -> Segment:
    return Segment(
        camera_id=CameraId("cam1"),
        start=T0 + timedelta(seconds=start_s),
        end=T0 + timedelta(seconds=end_s),
        path=f"cam1/{start_s}.mp4",
        size_bytes=1,
        video_codec="h264",
        width=320,
        height=180,
        keyframes=1,
    )


def _t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


SEGMENTS = [_seg(0, 10), _seg(10.05, 20), _seg(20, 30), _seg(60, 70), _seg(70.5, 80), _seg(200, 210)]


def test_back_to_back_segments_merge_and_real_gaps_remain() -> None:
    timeline = build_timeline(SEGMENTS, _t(0), _t(300), resolution_s=1.0)
    assert [(r.span.start, r.span.end, r.segments) for r in timeline.recorded] == [
        (_t(0), _t(30), 3),
        (_t(60), _t(80), 2),
        (_t(200), _t(210), 1),
    ]
    assert timeline.gaps == (Span(_t(30), _t(60)), Span(_t(80), _t(200)), Span(_t(210), _t(300)))
    assert timeline.recorded_s == pytest.approx(60)


def test_a_coarser_resolution_swallows_short_gaps() -> None:
    timeline = build_timeline(SEGMENTS, _t(0), _t(300), resolution_s=60.0)
    assert [(r.span.start, r.span.end) for r in timeline.recorded] == [(_t(0), _t(80)), (_t(200), _t(210))]
    assert timeline.gaps == (Span(_t(80), _t(200)), Span(_t(210), _t(300)))


def test_spans_are_clipped_to_the_range_and_edges_shorter_than_resolution_are_not_gaps() -> None:
    timeline = build_timeline(SEGMENTS, _t(5), _t(65), resolution_s=1.0)
    assert [(r.span.start, r.span.end) for r in timeline.recorded] == [(_t(5), _t(30)), (_t(60), _t(65))]
    assert timeline.gaps == (Span(_t(30), _t(60)),)
    empty = build_timeline([], _t(0), _t(100), resolution_s=10)
    assert empty.recorded == ()
    assert empty.gaps == (Span(_t(0), _t(100)),)


def test_order_of_input_does_not_matter() -> None:
    forward = build_timeline(SEGMENTS, _t(0), _t(300), 1.0)
    assert build_timeline(list(reversed(SEGMENTS)), _t(0), _t(300), 1.0) == forward


@pytest.mark.parametrize(
    ("start", "end", "resolution", "error"),
    [(_t(10), _t(10), 1.0, "end must be after start"), (_t(0), _t(10), 0.0, "resolution_s")],
)
def test_invalid_arguments(start: datetime, end: datetime, resolution: float, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        build_timeline([], start, end, resolution)


def test_default_resolution_and_bucket_count() -> None:
    assert default_resolution_s(_t(0), _t(100)) == 1.0
    assert default_resolution_s(_t(0), _t(3 * 86400)) == pytest.approx(259.2)
    assert bucket_count(_t(0), _t(100), 0.5) == 200
