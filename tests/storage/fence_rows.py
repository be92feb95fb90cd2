"""Rows for the fencing tests: two cameras and numbered 10 s segments of one of them."""

from datetime import UTC, datetime, timedelta

from watchkeeper.domain import CameraId, Segment

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CAM = CameraId("gate-north")
OTHER = CameraId("dock-east")


def segment(number: int, camera: CameraId = CAM) -> Segment:
    """The ``number``-th 10 s segment of ``camera`` from ``T0``, with a path unique to that number."""
    start = T0 + timedelta(seconds=10 * number)
    return Segment(
        camera_id=camera,
        start=start,
        end=start + timedelta(seconds=10),
        path=f"{camera}/{number:06d}.mp4",
        size_bytes=1000,
        video_codec="h264",
        width=640,
        height=360,
        keyframes=1,
    )
