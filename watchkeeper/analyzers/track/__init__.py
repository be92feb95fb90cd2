"""Object tracking within one camera: ByteTrack-style, IoU and Kalman only, no appearance features."""

from watchkeeper.analyzers.track.kalman import BoxKalman, KalmanSettings
from watchkeeper.analyzers.track.matching import box_iou, greedy_match
from watchkeeper.analyzers.track.tracker import ByteTracker, TrackerSettings, to_seconds

__all__ = [
    "BoxKalman",
    "ByteTracker",
    "KalmanSettings",
    "TrackerSettings",
    "box_iou",
    "greedy_match",
    "to_seconds",
]
