"""Evidence locks: time ranges of a camera that retention must never delete until released."""

from dataclasses import dataclass
from datetime import datetime

from watchkeeper.domain.ids import CameraId


@dataclass(frozen=True, slots=True)
class EvidenceLock:
    """A locked ``[start, end)`` range of one camera's recording.

    Segments overlapping an active lock (``released_at`` is ``None``) are exempt from retention by days,
    by disk quota and from emergency eviction when the disk is full.
    """

    camera_id: CameraId
    start: datetime
    end: datetime
    reason: str
    created_by: str
    created_at: datetime
    released_at: datetime | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(
                f"evidence lock end {self.end.isoformat()} must be after its start {self.start.isoformat()}"
            )
        if not self.reason.strip():
            raise ValueError("an evidence lock needs a reason")
        if not self.created_by.strip():
            raise ValueError("an evidence lock needs the name of whoever created it")

    @property
    def active(self) -> bool:
        """True until the lock is released."""
        return self.released_at is None
