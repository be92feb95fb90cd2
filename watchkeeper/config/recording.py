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
        default=30,
        title="Maximum reconnect delay",
        description="Upper bound in seconds of the exponential reconnect backoff.",
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
