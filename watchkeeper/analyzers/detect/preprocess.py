"""Turn an RGB frame into a model input tensor, and map model boxes back to frame pixels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

from watchkeeper.config.detectors import DetectorConfig

LETTERBOX_FILL = 114
"""Grey level of the letterbox padding (the value YOLO models were trained with)."""


@dataclass(frozen=True, slots=True)
class InputTransform:
    """How frame pixels map to model-input pixels: ``model = frame * scale + pad``.

    Attributes:
        scale_x: Horizontal scale from frame to model input.
        scale_y: Vertical scale from frame to model input.
        pad_x: Left padding in model-input pixels (letterbox only).
        pad_y: Top padding in model-input pixels (letterbox only).
        frame_width: Width of the original frame.
        frame_height: Height of the original frame.
    """

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    frame_width: int
    frame_height: int

    def to_frame(self, boxes: NDArray[np.float32]) -> NDArray[np.float32]:
        """Map ``(N, 4)`` xyxy boxes in model-input pixels to frame pixels, clipped to the frame.

        Args:
            boxes: Boxes in model-input pixels.

        Returns:
            Boxes in frame pixels.
        """
        out = np.empty_like(boxes, dtype=np.float32)
        out[:, 0::2] = (boxes[:, 0::2] - self.pad_x) / self.scale_x
        out[:, 1::2] = (boxes[:, 1::2] - self.pad_y) / self.scale_y
        np.clip(out[:, 0::2], 0, self.frame_width, out=out[:, 0::2])
        np.clip(out[:, 1::2], 0, self.frame_height, out=out[:, 1::2])
        return out


def _resize(frame: NDArray[np.uint8], width: int, height: int) -> NDArray[np.uint8]:
    """Bilinear resize of an RGB uint8 frame with FFmpeg's swscale (through PyAV)."""
    if frame.shape[1] == width and frame.shape[0] == height:
        return frame
    video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
    resized = video_frame.reformat(width=width, height=height, format="rgb24", interpolation="BILINEAR")
    return np.asarray(resized.to_ndarray(), dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class Preprocessor:
    """Resizes (stretch or letterbox), reorders channels, normalises and lays out frames for one model."""

    config: DetectorConfig

    def __call__(self, frame: NDArray[np.uint8]) -> tuple[NDArray[Any], InputTransform]:
        """Prepare one ``(H, W, 3)`` uint8 RGB frame.

        Args:
            frame: The frame, RGB.

        Returns:
            The ``(1, C, H, W)`` or ``(1, H, W, C)`` input tensor and the transform back to frame pixels.

        Raises:
            ValueError: When the frame is not an ``(H, W, 3)`` uint8 array.
        """
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame must be an (H, W, 3) uint8 RGB array, got {frame.shape} {frame.dtype}")
        image, transform = self._fit(frame)
        if self.config.channel_order == "bgr":
            image = image[:, :, ::-1]
        if self.config.input_dtype == "uint8":
            tensor: NDArray[Any] = np.ascontiguousarray(image)
        else:
            mean = np.asarray(self.config.mean, dtype=np.float32)
            inv_std = 1.0 / np.asarray(self.config.std, dtype=np.float32)
            tensor = (image.astype(np.float32) - mean) * inv_std
        if self.config.input_layout == "nchw":
            tensor = tensor.transpose(2, 0, 1)
        return np.ascontiguousarray(tensor[np.newaxis]), transform

    def _fit(self, frame: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], InputTransform]:
        height, width = frame.shape[:2]
        target_w, target_h = self.config.input_width, self.config.input_height
        if self.config.resize == "stretch":
            transform = InputTransform(target_w / width, target_h / height, 0.0, 0.0, width, height)
            return _resize(frame, target_w, target_h), transform
        scale = min(target_w / width, target_h / height)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        pad_x, pad_y = (target_w - new_w) // 2, (target_h - new_h) // 2
        canvas = np.full((target_h, target_w, 3), LETTERBOX_FILL, dtype=np.uint8)
        canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = _resize(frame, new_w, new_h)
        transform = InputTransform(new_w / width, new_h / height, float(pad_x), float(pad_y), width, height)
        return canvas, transform
