"""Recorded spans and gaps of a camera over a time range, merged at a chosen resolution.

Used for the timeline bar: over several days a bar has a few hundred pixels, so segments closer together
than the resolution are merged into one span and only the gaps that would be visible remain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from watchkeeper.domain import Segment

MAX_BUCKETS = 10_000
"""A timeline covers at most this many resolution steps (``(end - start) / resolution``)."""

DEFAULT_BUCKETS = 1_000
"""Resolution chosen when the caller gives none: the range split into this many steps."""


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open time interval ``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"span end {self.end.isoformat()} is before its start {self.start.isoformat()}")

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class RecordedSpan:
    """Continuous (at the resolution) recording: the union of ``segments`` segments."""

    span: Span
    segments: int


@dataclass(frozen=True, slots=True)
class Timeline:
    """Recorded spans and the gaps between them, both clipped to the requested range."""

    range: Span
    resolution_s: float
    recorded: tuple[RecordedSpan, ...]
    gaps: tuple[Span, ...]

    @property
    def recorded_s(self) -> float:
        """Seconds covered by recorded spans."""
        return sum(item.span.duration_s for item in self.recorded)


def default_resolution_s(start: datetime, end: datetime) -> float:
    """A resolution giving about ``DEFAULT_BUCKETS`` steps over the range, at least one second."""
    return max(1.0, (end - start).total_seconds() / DEFAULT_BUCKETS)


def bucket_count(start: datetime, end: datetime, resolution_s: float) -> float:
    """How many resolution steps cover the range."""
    return (end - start).total_seconds() / resolution_s


def build_timeline(
    segments: Iterable[Segment], start: datetime, end: datetime, resolution_s: float
) -> Timeline:
    """Merge ``segments`` into spans and gaps over ``[start, end)``.

    Segments whose distance is smaller than ``resolution_s`` join one span; gaps shorter than the
    resolution are therefore never reported, and neither is a gap at either edge that is shorter.

    Raises:
        ValueError: ``end <= start`` or ``resolution_s <= 0``.
    """
    if end <= start:
        raise ValueError("end must be after start")
    if resolution_s <= 0:
        raise ValueError(f"resolution_s must be > 0, got {resolution_s}")
    join = timedelta(seconds=resolution_s)
    spans: list[list[datetime]] = []
    counts: list[int] = []
    for segment in sorted(segments, key=lambda s: s.start):
        if segment.end < start or segment.start >= end:
            continue
        seg_start, seg_end = max(segment.start, start), min(segment.end, end)
        if spans and seg_start - spans[-1][1] < join:
            spans[-1][1] = max(spans[-1][1], seg_end)
            counts[-1] += 1
        else:
            spans.append([seg_start, seg_end])
            counts.append(1)
    recorded = tuple(RecordedSpan(Span(a, b), n) for (a, b), n in zip(spans, counts, strict=True))
    return Timeline(
        range=Span(start, end),
        resolution_s=resolution_s,
        recorded=recorded,
        gaps=_gaps(recorded, start, end, join),
    )


def _gaps(
    recorded: tuple[RecordedSpan, ...], start: datetime, end: datetime, join: timedelta
) -> tuple[Span, ...]:
    gaps: list[Span] = []
    cursor = start
    for item in recorded:
        if item.span.start - cursor >= join:
            gaps.append(Span(cursor, item.span.start))
        cursor = max(cursor, item.span.end)
    if end - cursor >= join:
        gaps.append(Span(cursor, end))
    return tuple(gaps)
