"""Response models of the playback endpoints (timeline)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from watchkeeper.api.schemas.models import EventOut
from watchkeeper.domain import Event
from watchkeeper.recorder.timeline import Timeline


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TimelineSpanOut(_Out):
    """Recorded footage, continuous at the timeline's resolution."""

    start: datetime
    end: datetime
    segments: int = Field(description="How many segments were merged into this span.")


class TimelineGapOut(_Out):
    """No footage (at least one resolution step long)."""

    start: datetime
    end: datetime


class TimelineOut(_Out):
    """Recorded spans, gaps and event markers of a camera over a time range."""

    camera_id: str
    start: datetime
    end: datetime
    resolution_s: float = Field(description="Segments closer together than this were merged into one span.")
    recorded_s: float = Field(description="Seconds covered by the recorded spans.")
    recorded: list[TimelineSpanOut]
    gaps: list[TimelineGapOut]
    events: list[EventOut] = Field(description="Events that start in the range, oldest first.")
    events_truncated: bool = Field(description="True when there were more events than the response holds.")

    @classmethod
    def of(
        cls, camera_id: str, timeline: Timeline, events: list[Event], *, events_truncated: bool
    ) -> TimelineOut:
        """Build from the domain timeline and the events in its range."""
        return cls(
            camera_id=camera_id,
            start=timeline.range.start,
            end=timeline.range.end,
            resolution_s=timeline.resolution_s,
            recorded_s=round(timeline.recorded_s, 3),
            recorded=[
                TimelineSpanOut(start=item.span.start, end=item.span.end, segments=item.segments)
                for item in timeline.recorded
            ],
            gaps=[TimelineGapOut(start=gap.start, end=gap.end) for gap in timeline.gaps],
            events=[EventOut.of(event) for event in events],
            events_truncated=events_truncated,
        )
