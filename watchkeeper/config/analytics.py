"""The ``detection.objects`` and ``detection.tamper`` sections: the object pipeline and camera health."""

from __future__ import annotations

from pydantic import Field

from watchkeeper.config.base import ConfigModel

DEFAULT_OBJECT_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "bus", "truck", "dog", "cat",
)  # fmt: skip
"""Generic classes tracked by default (COCO names)."""


class ObjectsConfig(ConfigModel):
    """Motion-gated object detection and tracking on the detect input."""

    enabled: bool = Field(
        default=True,
        title="Object detection",
        description=(
            "Run the object detector, tracker, zones and rules. Needs the detector model: with the built-in "
            "one, run `make models` first (startup stops with that advice when the file is missing)."
        ),
    )
    fps: float = Field(
        default=5,
        title="Detection rate",
        description="Most detector runs per second per camera (never more than `detection.fps`).",
        gt=0,
        le=30,
    )
    classes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_OBJECT_CLASSES),
        title="Tracked classes",
        description="Detector class names that are tracked and may raise events; others are ignored.",
        min_length=1,
        max_length=1000,
    )
    motion_gating: bool = Field(
        default=True,
        title="Motion gating",
        description=(
            "Run the detector only on regions with motion (plus periodic checks); off runs it on every "
            "analysed frame (costly: the baseline of benchmarks/pipeline.py)."
        ),
    )
    full_frame_interval_s: float = Field(
        default=10,
        title="Full-frame check interval",
        description="Seconds between whole-frame detections whatever the motion (0 disables them).",
        ge=0,
        le=3600,
    )
    idle_full_frame_interval_s: float = Field(
        default=40,
        title="Idle full-frame check interval",
        description=(
            "Longest interval between whole-frame detections while nothing moves: each check that follows a "
            "motionless interval doubles the interval up to this; any motion resets it to "
            "`full_frame_interval_s`. At most `full_frame_interval_s` keeps the interval fixed."
        ),
        ge=0,
        le=3600,
    )
    reverify_s: float = Field(
        default=2,
        title="Stationary re-verification",
        description=(
            "Seconds between re-detections of a tracked object that stopped moving; in between its track is "
            "kept alive from the tracker's prediction. Must stay under the tracker's 3 s gap limit."
        ),
        gt=0,
        le=2.9,
    )
    max_regions: int = Field(
        default=2,
        title="Regions per frame",
        description="Most motion regions detected per frame (each is one detector run); more are merged.",
        ge=1,
        le=8,
    )
    region_padding: float = Field(
        default=0.3,
        title="Region padding",
        description="Each motion region grows by this fraction of its size on every side.",
        ge=0,
        le=2,
    )
    queue_depth: int = Field(
        default=1,
        title="Queue per camera",
        description=(
            "Frames a camera may have waiting for the shared detector; beyond it the oldest drops. 1 (a "
            "newer frame replaces the waiting one) keeps results fresh when the detector is busy: each "
            "camera still gets one detector run per round, on its newest frame."
        ),
        ge=1,
        le=100,
    )


class TamperConfig(ConfigModel):
    """Camera health analytics: covered, too dark, out of focus, moved or sudden scene change."""

    enabled: bool = Field(
        default=True, title="Tamper detection", description="Raise equipment events for tampered cameras."
    )
    dark_level: float = Field(
        default=25,
        title="Dark level",
        description="Mean grey level (0-255) under which the image counts as too dark.",
        ge=0,
        le=255,
    )
    covered_contrast: float = Field(
        default=8,
        title="Covered contrast",
        description="Grey-level standard deviation under which the image counts as covered (uniform).",
        ge=0,
        le=128,
    )
    defocus_ratio: float = Field(
        default=0.35,
        title="Defocus ratio",
        description="Sharpness under this fraction of the learned scene's counts as out of focus.",
        gt=0,
        lt=1,
    )
    moved_correlation: float = Field(
        default=0.5,
        title="Moved correlation",
        description="Structure correlation with the learned scene under which the camera counts as moved.",
        gt=-1,
        lt=1,
    )
    raise_s: float = Field(
        default=5,
        title="Raise after",
        description="Seconds a condition must hold before its event is raised.",
        ge=0,
        le=3600,
    )
    clear_s: float = Field(
        default=3,
        title="Clear after",
        description="Seconds a condition must be gone before its event ends.",
        ge=0,
        le=3600,
    )
