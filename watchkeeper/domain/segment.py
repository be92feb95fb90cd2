"""Recorded segments."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from watchkeeper.domain.ids import CameraId


class Rendition(StrEnum):
    """Which copy of a camera's footage a segment belongs to.

    ``original`` is the camera's own stream as recorded (readable only under an unmask grant);
    ``protected`` is the low-resolution copy with people, faces and privacy masks blurred that
    every viewer sees by default.
    """

    ORIGINAL = "original"
    PROTECTED = "protected"


class StorageTier(StrEnum):
    """Where a segment's bytes are: ``hot`` on the local media folder, ``warm`` in an S3-compatible bucket."""

    HOT = "hot"
    WARM = "warm"


@dataclass(frozen=True, slots=True)
class Segment:
    """One complete fragmented-MP4 file of a camera's recording.

    ``path`` is relative to the media root. ``start``/``end`` are wall-clock UTC times at receipt.
    ``rendition`` says whether it is the original recording or the protected (redacted) copy.
    ``tier`` says where the bytes are (local disk or the warm bucket, under ``object_key``).
    """

    camera_id: CameraId
    start: datetime
    end: datetime
    path: str
    size_bytes: int
    video_codec: str
    width: int
    height: int
    keyframes: int
    audio_codec: str | None = None
    id: int | None = None
    rendition: Rendition = Rendition.ORIGINAL
    tier: StorageTier = StorageTier.HOT
    object_key: str | None = None
    """Key of the object in the warm bucket (``None`` while the segment is hot)."""
    sha256: str | None = None
    """SHA-256 (hex) of the stored bytes, computed when the segment moved to the warm tier."""

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(
                f"segment end {self.end.isoformat()} is before its start {self.start.isoformat()}"
            )
        if self.size_bytes < 0:
            raise ValueError(f"size_bytes must be >= 0, got {self.size_bytes}")

    @property
    def duration_s(self) -> float:
        """Length of the segment in seconds."""
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class TierCounts:
    """How many segments and bytes the index holds in each storage tier."""

    hot_segments: int = 0
    hot_bytes: int = 0
    warm_segments: int = 0
    warm_bytes: int = 0
