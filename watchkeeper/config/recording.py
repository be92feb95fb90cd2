"""The ``recording`` section: segmenting, retention and reconnection."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from watchkeeper.config.base import ConfigModel


class RecordingConfig(ConfigModel):
    """How streams are recorded and how long recordings are kept."""

    segment_seconds: int = Field(
        default=10,
        title="Segment length",
        description="Target length of a recorded fMP4 segment in seconds (segments are cut on keyframes).",
        ge=1,
        le=300,
    )
    retain_days: int = Field(
        default=7,
        title="Retention",
        description=(
            "Days recordings are kept before deletion; 0 keeps nothing beyond the live buffer. "
            "Evidence-locked items are exempt until released."
        ),
        ge=0,
        le=3650,
    )
    event_retain_days: int = Field(
        default=14,
        title="Event retention",
        description=(
            "Days footage overlapping an event is kept (at least `retain_days`: footage is never deleted "
            "earlier because it shows an event). Evidence-locked items are exempt until released."
        ),
        ge=0,
        le=3650,
    )
    max_bytes: int | None = Field(
        default=None,
        title="Disk quota",
        description=(
            "Upper bound in bytes of all recorded footage; the oldest footage of any camera is evicted "
            "first when it is exceeded (evidence-locked footage never is). Empty means no byte quota."
        ),
        ge=1,
        le=2**62,
    )
    max_percent: float | None = Field(
        default=None,
        title="Disk quota (percent)",
        description=(
            "Upper bound of the media volume's used space in percent (whatever filled it); the oldest "
            "unlocked footage is evicted while it is exceeded. Empty means no percent quota."
        ),
        gt=0,
        le=100,
    )
    min_free_bytes: int = Field(
        default=512 * 1024 * 1024,
        title="Minimum free space",
        description=(
            "Bytes kept free on the media volume: retention evicts the oldest unlocked footage below it, "
            "and when a write fails because the disk is full, recording evicts until this much is free."
        ),
        ge=0,
        le=2**50,
    )
    retention_interval_s: float = Field(
        default=60,
        title="Retention interval",
        description="Seconds between retention passes (days, event days and disk quota).",
        ge=1,
        le=86400,
    )
    stall_timeout_s: float = Field(
        default=10,
        title="Stall timeout",
        description="Seconds without a packet after which a stream counts as stalled and is reconnected.",
        ge=1,
        le=300,
    )
    reconnect_initial_s: float = Field(
        default=1,
        title="Initial reconnect delay",
        description="First delay in seconds before reconnecting a failed stream (doubles on each failure).",
        ge=0.1,
        le=60,
    )
    reconnect_max_s: float = Field(
        default=3,
        title="Maximum reconnect delay",
        description=(
            "Upper bound in seconds of the exponential reconnect backoff (jittered by up to 20 %). The "
            "default keeps recording within 5 s of a camera coming back; a failed attempt costs little."
        ),
        ge=1,
        le=3600,
    )

    @model_validator(mode="after")
    def _backoff_order(self) -> Self:
        if self.reconnect_initial_s > self.reconnect_max_s:
            raise PydanticCustomError(
                "backoff_order",
                "reconnect_initial_s ({initial}) must not exceed reconnect_max_s ({maximum})",
                {"initial": self.reconnect_initial_s, "maximum": self.reconnect_max_s},
            )
        return self
