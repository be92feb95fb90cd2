"""Per-camera analysis: frames -> motion -> (regions -> detector -> tracker -> rules) + tamper -> events.

The motion-only chain (no detector service, or ``detection.objects.enabled`` false) is what it always was:
motion events and ``latest.jpg``. With a detector service, the object pipeline of ``runtime.objects`` runs
on the frames and regions that motion selects.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter
from numpy.typing import NDArray

from watchkeeper.analyzers.event_snapshots import EventSnapshotStore
from watchkeeper.analyzers.motion import RunningAverageMotion
from watchkeeper.analyzers.sampler import FrameSampler, FrameTap, SamplerSettings
from watchkeeper.analyzers.snapshot import SnapshotWriter, snapshot_path
from watchkeeper.analyzers.tamper import TamperChange, TamperCondition, TamperDetector, TamperSettings
from watchkeeper.config.analytics import TamperConfig
from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.detection import DetectionConfig
from watchkeeper.domain import CameraId, Event, EventKind, utcnow
from watchkeeper.events.motion import EventChange, EventChangeKind, MotionEventRule, MotionRuleSettings
from watchkeeper.privacy.rendition import PrivacyTap
from watchkeeper.runtime.objects import AnalysisServices, ObjectAnalysis
from watchkeeper.sources import OpenedStream, ReceivedPacket


class TamperEvents:
    """Tamper detection of one camera, reporting its conditions as ``tamper`` events."""

    def __init__(self, camera_id: CameraId, config: TamperConfig) -> None:
        """Create the detector from the ``detection.tamper`` settings."""
        self._camera_id = camera_id
        self._detector = TamperDetector(
            TamperSettings(
                dark_level=config.dark_level,
                covered_contrast=config.covered_contrast,
                defocus_ratio=config.defocus_ratio,
                moved_correlation=config.moved_correlation,
                raise_s=config.raise_s,
                clear_s=config.clear_s,
            )
        )
        self._open: dict[TamperCondition, Event] = {}

    def update(self, grey: NDArray[np.uint8], at: datetime) -> list[EventChange]:
        """Feed one analysis frame; return tamper events that started or ended."""
        return [self._change(change) for change in self._detector.update(grey, at)]

    def close(self, at: datetime) -> list[EventChange]:
        """End every open tamper event (the camera disconnected)."""
        return [self._change(change) for change in self._detector.close(at)]

    def _change(self, change: TamperChange) -> EventChange:
        condition = change.condition
        opened = self._open.pop(condition, None) or Event(
            id=uuid.uuid4().hex,
            camera_id=self._camera_id,
            kind=EventKind.TAMPER,
            start=change.since,
            end=None,
            score=change.score,
            label=condition.description,
            rule=condition.value,
        )
        if change.active:
            self._open[condition] = opened
            return EventChange(EventChangeKind.STARTED, opened)
        ended = replace(opened, end=max(change.at, opened.start), score=change.score)
        return EventChange(EventChangeKind.ENDED, ended)


class MotionAnalysis:
    """Motion detector + event rule (+ tamper detection and the object pipeline) for one camera."""

    def __init__(
        self,
        camera_id: CameraId,
        detection: DetectionConfig,
        on_event: Callable[[EventChange], None],
        objects: ObjectAnalysis | None = None,
    ):
        """Build the analysis chain from the detection settings."""
        motion = detection.motion
        self._detector = RunningAverageMotion(threshold=motion.threshold, min_area=motion.min_area)
        self._rule = MotionEventRule(
            camera_id, MotionRuleSettings(min_frames=motion.min_frames, cooldown_s=motion.cooldown_s)
        )
        self._tamper = TamperEvents(camera_id, detection.tamper) if detection.tamper.enabled else None
        self._objects = objects
        self._on_event = on_event
        self._last_seen: datetime | None = None

    @property
    def objects(self) -> ObjectAnalysis | None:
        """The object pipeline, when it runs."""
        return self._objects

    @property
    def motion_mask(self) -> NDArray[np.bool_] | None:
        """The moving pixels of the last analysed frame (analysis grey size), ``None`` before the first."""
        return self._detector.mask

    def frame(self, grey: NDArray[np.uint8], at: datetime) -> None:
        """Analyse one sampled frame."""
        self._last_seen = at
        change = self._rule.update(self._detector.update(grey), at)
        if change is not None:
            self._on_event(change)
        if self._tamper is not None:
            for tampered in self._tamper.update(grey, at):
                self._on_event(tampered)
        if self._objects is not None:
            mask = self._detector.mask
            if mask is not None:
                height, width = mask.shape
                for region in self._objects.take_empty_regions():
                    self._detector.absorb(*region.to_pixels(width, height))
            self._objects.plan(mask, at)

    def disconnected(self) -> None:
        """Close ongoing events when the camera drops out."""
        at = self._last_seen or utcnow()
        change = self._rule.close(at)
        if change is not None:
            self._on_event(change)
        if self._tamper is not None:
            for tampered in self._tamper.close(at):
                self._on_event(tampered)
        if self._objects is not None:
            self._objects.close(at)


class ObjectTap:
    """A ``FrameTap``: hands the colour frame to the object pipeline when it asked for that frame."""

    def __init__(self, objects: ObjectAnalysis) -> None:
        """Feed ``objects``."""
        self._objects = objects
        self._rgb = VideoReformatter()  # one scaler for the camera's frames, not one per frame

    def due(self, at: datetime) -> bool:
        """True when the pipeline planned a detector run for the frame at ``at``."""
        return self._objects.due(at)

    def take(self, frame: VideoFrame, at: datetime) -> None:
        """Convert to RGB at the analysis width and submit it."""
        width = min(self._objects.width, frame.width) // 2 * 2
        height = max(2, round(frame.height * width / max(1, frame.width)) // 2 * 2)
        rgb = self._rgb.reformat(frame, width=width, height=height, format="rgb24").to_ndarray()
        self._objects.submit(np.ascontiguousarray(rgb, dtype=np.uint8), at)


class AnalysisConsumer:
    """Adapts ``FrameSampler`` + ``MotionAnalysis`` to the consumer protocol."""

    def __init__(
        self, sampler: FrameSampler, analysis: MotionAnalysis, privacy: PrivacyTap | None = None
    ) -> None:
        """Wrap the sampler, the analysis it feeds and the privacy tap (protected rendition), if any."""
        self._sampler = sampler
        self._analysis = analysis
        self._privacy = privacy

    @property
    def privacy(self) -> PrivacyTap | None:
        """The protected rendition and redacted ``latest.jpg`` writer (``None``: no privacy services)."""
        return self._privacy

    @property
    def analysis(self) -> MotionAnalysis:
        """The analysis chain."""
        return self._analysis

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
        if self._privacy is not None:
            self._privacy.finish()


def build_analysis_consumer(
    camera_id: CameraId,
    detection: DetectionConfig,
    media_root: Path,
    on_event: Callable[[EventChange], None],
    *,
    camera: CameraConfig | None = None,
    services: AnalysisServices | None = None,
) -> AnalysisConsumer:
    """The analysis chain of one camera: sampler -> motion (-> objects) -> events, plus ``latest.jpg``.

    Args:
        camera_id: The camera.
        detection: The ``detection`` settings.
        media_root: Where ``latest.jpg`` and event snapshots go.
        on_event: Receives every event change (called from the camera thread or a detector thread).
        camera: The camera's config (zones and rules); without it no object pipeline runs.
        services: The shared detector and redactor; without a detector no object pipeline runs.

    Returns:
        The packet consumer.
    """
    objects = None
    if (
        camera is not None
        and services is not None
        and services.detector is not None
        and detection.objects.enabled
    ):
        objects = ObjectAnalysis(camera, detection, services, EventSnapshotStore(media_root), on_event)
    analysis = MotionAnalysis(camera_id, detection, on_event, objects)
    taps: list[FrameTap] = []
    if objects is not None:
        taps.append(ObjectTap(objects))
    privacy = None
    if camera is not None and services is not None and services.privacy is not None:
        # latest.jpg comes from the redacted frame; the same frames make the protected rendition
        privacy = PrivacyTap(
            camera, detection, media_root, services.privacy, objects, lambda: analysis.motion_mask
        )
        taps.append(privacy)
        if services.live is not None:
            privacy.observe(services.live.observer(camera_id))
    else:
        taps.insert(0, SnapshotWriter(snapshot_path(media_root, camera_id)))
    sampler = FrameSampler(SamplerSettings(fps=float(detection.fps)), analysis.frame, taps=taps)
    return AnalysisConsumer(sampler, analysis, privacy)
