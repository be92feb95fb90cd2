"""Batches of fenced index writes (a worker's outbox replaying what waited while the store was away).

Each write carries the fencing token of the lease it was recorded under; a batch runs in one transaction,
in order, and says per write whether it was written, refused as stale, or already there (a duplicate).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from watchkeeper.domain import CameraId, Event, Segment


class FencedOutcome(StrEnum):
    """What became of one fenced write."""

    WRITTEN = "written"
    STALE = "stale"
    """Refused: a newer token was seen for the camera (another worker took it over)."""
    DUPLICATE = "duplicate"
    """A segment whose path is indexed already: nothing written (a replay of a write that had committed)."""


@dataclass(frozen=True, slots=True)
class FencedWrite:
    """One index write under ``token``: a segment row or an event upsert (exactly one of them)."""

    token: int
    segment: Segment | None = None
    event: Event | None = None

    def __post_init__(self) -> None:
        if (self.segment is None) == (self.event is None):
            raise ValueError("a fenced write carries exactly one of a segment and an event")
        if self.token < 0:
            raise ValueError(f"a fencing token is a non-negative integer, got {self.token}")

    @property
    def camera_id(self) -> CameraId:
        """The camera whose token is checked."""
        if self.segment is not None:
            return self.segment.camera_id
        assert self.event is not None  # noqa: S101 - guaranteed by __post_init__
        return self.event.camera_id


@dataclass(frozen=True, slots=True)
class FencedResult:
    """The outcome of one write of a batch; a written segment comes back with its index ``id``."""

    outcome: FencedOutcome
    segment: Segment | None = None
