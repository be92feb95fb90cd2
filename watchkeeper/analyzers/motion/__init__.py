"""Motion detection on small grey frames."""

from watchkeeper.analyzers.motion.protocol import MotionDetector, MotionResult
from watchkeeper.analyzers.motion.running_average import RunningAverageMotion

__all__ = ["MotionDetector", "MotionResult", "RunningAverageMotion"]
