"""Object detection: the ``Detector`` protocol, the ONNX Runtime backend and the model registry.

``build_detector(config)`` is the entry point; ``tfjs_convert`` (build time only) is not imported here.
"""

from watchkeeper.analyzers.detect.errors import DetectorError
from watchkeeper.analyzers.detect.onnx import OnnxDetector
from watchkeeper.analyzers.detect.protocol import Detector
from watchkeeper.analyzers.detect.registry import build_detector, builtin_model_path, model_dir

__all__ = ["Detector", "DetectorError", "OnnxDetector", "build_detector", "builtin_model_path", "model_dir"]
