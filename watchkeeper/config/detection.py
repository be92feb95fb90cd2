"""The ``detection`` section: analysis decode rate and size, motion detection."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from watchkeeper.config.analytics import ObjectsConfig, TamperConfig
from watchkeeper.config.base import ConfigModel
from watchkeeper.config.detectors import DetectorConfig


class MotionConfig(ConfigModel):
    """Frame-difference motion detection that opens and closes motion events."""

    threshold: int = Field(
        default=25,
        title="Pixel threshold",
        description="Minimum grey-level difference (1-255) for a pixel to count as changed.",
        ge=1,
        le=255,
    )
    min_area: float = Field(
        default=0.001,
        title="Minimum area",
        description=(
            "Fraction of the frame (0-1) that must change for a frame to count as motion; 0.001 is about "
            "one distant walker in a 160-pixel-wide analysis frame."
        ),
        ge=0,
        le=1,
    )
    min_frames: int = Field(
        default=2,
        title="Minimum frames",
        description="Consecutive frames with motion needed to start an event.",
        ge=1,
        le=100,
    )
    cooldown_s: float = Field(
        default=5,
        title="Cooldown",
        description="Seconds without motion before the event ends.",
        ge=0,
        le=3600,
    )


class DetectionConfig(ConfigModel):
    """How the detect input is decoded and analysed."""

    fps: float = Field(
        default=5,
        title="Analysis rate",
        description="Frames per second decoded from the detect input for analysis.",
        ge=0.1,
        le=30,
    )
    width: int = Field(
        default=640,
        title="Analysis width",
        description="Width in pixels frames are scaled to for analysis (height keeps the aspect ratio).",
        ge=64,
        le=3840,
    )
    motion: MotionConfig = Field(
        default_factory=MotionConfig, title="Motion", description="Motion detection settings."
    )
    detector: DetectorConfig = Field(
        default_factory=DetectorConfig,
        title="Object detector",
        description="The object detector model (default: the built-in NanoDet-m COCO model).",
    )
    objects: ObjectsConfig = Field(
        default_factory=ObjectsConfig,
        title="Objects",
        description="Motion-gated object detection, tracking, zones and rules.",
    )
    tamper: TamperConfig = Field(
        default_factory=TamperConfig,
        title="Tamper",
        description="Camera health analytics (covered, dark, out of focus, moved).",
    )

    @model_validator(mode="after")
    def _classes_known(self) -> Self:
        known = set(self.detector.class_names)
        unknown = [name for name in self.objects.classes if name not in known]
        if unknown:
            raise ValueError(
                f"objects.classes: unknown class(es) {', '.join(unknown)}; the detector's classes are set "
                "in detection.detector.class_names"
            )
        return self

    def resolved(self, base_dir: Path) -> DetectionConfig:
        """Return a copy whose relative detector model path is absolute against ``base_dir`` (no I/O).

        Args:
            base_dir: The folder of the config file.

        Returns:
            The same settings with the detector path resolved.
        """
        return self.model_copy(update={"detector": self.detector.resolved(base_dir)})
