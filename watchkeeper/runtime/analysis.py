"""Per-camera analysis chain: sampled frames -> motion detector -> event rule -> event changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from watchkeeper.analyzers.motion import RunningAverageMotion
from watchkeeper.analyzers.sampler import FrameSampler
from watchkeeper.config.detection import DetectionConfig
from watchkeeper.domain import CameraId, utcnow
from watchkeeper.events.motion import EventChange, MotionEventRule, MotionRuleSettings
from watchkeeper.sources import OpenedStream, ReceivedPacket


class MotionAnalysis:
    """Motion detector + event rule for one camera; reports event changes."""

    def __init__(
        self, camera_id: CameraId, detection: DetectionConfig, on_event: Callable[[EventChange], None]
    ):
        """Build the analysis chain from the detection settings."""
        motion = detection.motion
        self._detector = RunningAverageMotion(threshold=motion.threshold, min_area=motion.min_area)
        self._rule = MotionEventRule(
            camera_id, MotionRuleSettings(min_frames=motion.min_frames, cooldown_s=motion.cooldown_s)
        )
        self._on_event = on_event
        self._last_seen: datetime | None = None

    def frame(self, grey: NDArray[np.uint8], at: datetime) -> None:
        """Analyse one sampled frame."""
        self._last_seen = at
        change = self._rule.update(self._detector.update(grey), at)
        if change is not None:
            self._on_event(change)

    def disconnected(self) -> None:
        """Close an ongoing event when the camera drops out."""
        change = self._rule.close(self._last_seen or utcnow())
        if change is not None:
            self._on_event(change)


class AnalysisConsumer:
    """Adapts ``FrameSampler`` + ``MotionAnalysis`` to the consumer protocol."""

    def __init__(self, sampler: FrameSampler, analysis: MotionAnalysis) -> None:
        self._sampler = sampler
        self._analysis = analysis

    def begin(self, stream: OpenedStream) -> None:
        """A new connection: reset the sampler."""
        self._sampler.begin(stream)

    def write(self, item: ReceivedPacket) -> None:
        """Decode and maybe analyse one packet."""
        self._sampler.write(item)

    def finish(self) -> None:
        """The connection ended: close any ongoing event."""
        self._sampler.finish()
        self._analysis.disconnected()
