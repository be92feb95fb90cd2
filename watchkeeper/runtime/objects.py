"""Per-camera object analysis: motion regions -> shared detector -> tracker -> zones and rules -> events.

The camera thread calls ``plan`` for every analysed frame (after motion detection). When the plan says
detect, the sampler hands the colour frame to ``submit``, which queues a job on the shared
``DetectorService``; the result comes back on a detector thread (``_detected``), which runs the tracker and
the rules and emits event changes. Frames without a detector run still feed the rules with the tracker's
**predicted** boxes, so an object that stopped moving keeps its track (and its dwell timer) without being
re-detected every frame; it is re-verified (whole frame) every ``reverify_s``. A new object that is not
moving is looked at on the next frames until the tracker confirms it.

Event snapshots: the frame at which an event starts is written at once; when the event ends, the frame where
its track scored highest inside the event (kept per track) replaces it and becomes the event's ``best_at``.
Every snapshot passes through the one ``Redactor`` first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from watchkeeper.analyzers.event_snapshots import EventSnapshotStore
from watchkeeper.analyzers.regions import Region, RegionPlan, RegionSelector, RegionSettings
from watchkeeper.analyzers.scheduler import DetectionJob, DetectionResult, DetectorService
from watchkeeper.analyzers.track import ByteTracker
from watchkeeper.analyzers.zones import FrameSize
from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.detection import DetectionConfig
from watchkeeper.domain import CameraId, Event
from watchkeeper.domain.detections import Detections
from watchkeeper.events.motion import EventChange, EventChangeKind
from watchkeeper.events.rules import RuleEngine
from watchkeeper.privacy import Redactor
from watchkeeper.privacy.live_feed import LiveFeed
from watchkeeper.privacy.rendition import PeopleView, PrivacyServices, redactor_for

log = logging.getLogger(__name__)

_BEST_FRAMES = 8
"""Tracks per camera whose best frame is kept for snapshots (each holds one analysis frame)."""
_PEOPLE_HOLD = timedelta(seconds=3)
"""How long a detected person box keeps being redacted (growing) after the detector last reported it."""


@dataclass(frozen=True, slots=True)
class AnalysisServices:
    """What every camera's analysis shares: the detector service (``None``: objects off) and the redactor."""

    detector: DetectorService | None
    redactor: Redactor
    on_latency: Callable[[float], None] | None = None
    """Receives the frame-to-event latency (seconds from frame arrival to event change) of object events."""
    privacy: PrivacyServices | None = None
    """The protected rendition and redacted ``latest.jpg`` (``None``: raw ``latest.jpg``, no rendition)."""
    live: LiveFeed | None = None
    """Receives every redacted rendition frame for live viewers (``None``: no live streams)."""


@dataclass(frozen=True, slots=True, eq=False)
class _BestFrame:
    score: float
    at: datetime
    frame: NDArray[np.uint8]
    people: Detections


@dataclass(slots=True)
class _Pending:
    at: datetime
    plan: RegionPlan
    received: float
    """``time.monotonic()`` when the plan was made (after decoding and motion detection)."""
    age_ms: float
    """Wall-clock milliseconds from the frame's packet arrival (``at``) to the plan."""


@dataclass(frozen=True, slots=True)
class StageTimes:
    """Where the time of one detector run went, from its frame's packet arrival (milliseconds).

    Logged for every object event that starts, so the frame -> event latency can be split by stage.
    """

    plan_ms: float
    """Packet arrival -> plan made: decoding, grey scaling, motion detection, region planning."""
    submit_ms: float
    """Plan -> job queued on the shared detector: colour conversion at the analysis width."""
    queued_ms: float
    """In the detector's queue (other cameras' jobs ahead, or the detector thread waiting for a core)."""
    detector_ms: float
    """The detector run(s) of the job."""
    rules_ms: float
    """Detector result -> tracker and rules done (on the detector thread).

    The last stage, ``emit_ms`` (rules done -> this event stored and published, after the events published
    before it from the same result), is measured when the event is published.
    """


class ObjectAnalysis:
    """The object pipeline of one camera; thread-safe between its camera thread and detector threads."""

    def __init__(
        self,
        camera: CameraConfig,
        detection: DetectionConfig,
        services: AnalysisServices,
        snapshots: EventSnapshotStore,
        on_event: Callable[[EventChange], None],
    ) -> None:
        """Build the pipeline; rules are built on the first frame, when the frame size is known.

        Raises:
            ValueError: ``services.detector`` is ``None``.
        """
        if services.detector is None:
            raise ValueError("object analysis needs a detector service")
        self._camera = camera
        self.camera_id = CameraId(camera.id)
        self._service = services.detector
        self._services = services
        self._snapshots = snapshots
        self._on_event = on_event
        objects = detection.objects
        self._gating = objects.motion_gating
        self._min_interval = timedelta(seconds=1.0 / objects.fps)
        self._reverify = timedelta(seconds=objects.reverify_s)
        self._width = detection.width
        self._selector = RegionSelector(
            RegionSettings(
                padding=objects.region_padding,
                max_regions=objects.max_regions,
                full_frame_interval_s=objects.full_frame_interval_s,
                idle_full_frame_interval_s=objects.idle_full_frame_interval_s,
            )
        )
        names = list(self._service.class_names)
        self._class_names = names
        self._tracked = np.array([names.index(name) for name in objects.classes], dtype=np.int32)
        self._people = np.array([names.index("person")] if "person" in names else [], dtype=np.int32)
        self._lock = threading.Lock()
        self._tracker = ByteTracker()
        self._rules: RuleEngine | None = None
        self._frame_size: FrameSize | None = None
        self._pending: _Pending | None = None
        self._in_flight = 0
        self._last_detect: datetime | None = None
        self._last_rules: datetime | None = None
        self._verified: dict[int, datetime] = {}
        self._confirming: list[Region] = []
        self._empty: list[Region] = []
        self._best: dict[int, _BestFrame] = {}
        self._recent_people: list[tuple[datetime, Detections]] = []
        privacy = services.privacy
        self._redactor: Redactor = (
            services.redactor
            if privacy is None
            else redactor_for(camera, privacy.config, [int(index) for index in self._people.tolist()])
        )
        self._last_result: datetime | None = None

    # -- camera thread ---------------------------------------------------------------------------------

    def plan(self, mask: NDArray[np.bool_] | None, at: datetime) -> None:
        """Decide, after motion detection, whether the frame taken at ``at`` goes to the detector.

        Without a detector run, the rules are fed the tracker's predicted boxes for ``at``.
        """
        with self._lock:
            self._pending = None
            due = (
                self._last_detect is None
                or at - self._last_detect >= self._min_interval
                or at < self._last_detect
            )
            plan = self._choose(mask, at) if due else RegionPlan(())
            if plan.detect:
                age_ms = (time.time() - at.timestamp()) * 1000.0
                self._pending = _Pending(at, plan, time.monotonic(), age_ms)
                return
            changes = self._feed_predictions(at)
        self._emit(changes, None)

    def due(self, at: datetime) -> bool:
        """True when the sampler should hand over the colour frame taken at ``at``."""
        with self._lock:
            return self._pending is not None and self._pending.at == at

    def submit(self, rgb: NDArray[np.uint8], at: datetime) -> None:
        """Queue the colour frame (``(H, W, 3)`` RGB at analysis size) on the shared detector."""
        with self._lock:
            pending, self._pending = self._pending, None
            if pending is None or pending.at != at:
                return
            self._last_detect = at
            self._in_flight += 1
            if self._frame_size is None or (self._frame_size.width, self._frame_size.height) != (
                rgb.shape[1],
                rgb.shape[0],
            ):
                self._reset_rules(FrameSize(rgb.shape[1], rgb.shape[0]))
        regions = pending.plan.regions

        def done(result: DetectionResult) -> None:
            self._detected(rgb, at, pending, result)
            self._note_empty(regions, result)

        job = DetectionJob(
            self.camera_id, rgb, pending.plan.regions, at, done, urgent=self._confirming_tracks
        )
        if not self._service.submit(job):
            with self._lock:
                self._in_flight = max(0, self._in_flight - 1)

    def _confirming_tracks(self) -> bool:
        """True while the camera has rules and a track on its way to an event (its next results may alarm).

        That is: new tracks the tracker has not confirmed yet, or tracks a rule is counting towards its
        ``confirm_frames``. The shared detector asks this when it picks its next job
        (see ``DetectionJob.urgent``).
        """
        if not self._camera.rules:
            return False
        with self._lock:
            return bool(self._confirming) or (self._rules is not None and self._rules.confirming)

    def take_empty_regions(self) -> list[Region]:
        """Motion regions in which the detector last found nothing (each handed out once).

        The camera thread learns them into the motion background, so a ghost (an object that left but is
        still in the slowly adapting background) stops asking for detector runs.
        """
        with self._lock:
            empty, self._empty = self._empty, []
        return empty

    def close(self, at: datetime) -> None:
        """The camera disconnected: end open events and forget every track."""
        with self._lock:
            changes = self._rules.close(at) if self._rules is not None else []
            self._tracker.reset()
            self._pending = None
            self._verified.clear()
            self._last_rules = None
            self._recent_people = []
        self._emit(changes, None)
        with self._lock:
            self._best.clear()

    def tracked(self, at: datetime) -> Detections:
        """The confirmed tracks' boxes at ``at`` (what zones and rules see), in analysis-frame pixels."""
        with self._lock:
            return self._tracker.predict(at)

    @property
    def width(self) -> int:
        """Width the colour frame must have."""
        return self._width

    def people_view(self, at: datetime) -> PeopleView:
        """Person boxes to redact at ``at`` (analysis-frame pixels) and how old each one's evidence is.

        Recent detector results (person boxes of the last few seconds, whether tracked or not) and the
        tracker's predicted person tracks; each box's age is the time since a detection last confirmed it.
        """
        with self._lock:
            boxes = [dets.xyxy for _, dets in self._recent_people]
            ages = [np.full(len(dets), (at - seen).total_seconds()) for seen, dets in self._recent_people]
            predicted = self._tracker.predict(at)
            people = np.isin(predicted.class_id, self._people)
            boxes.append(predicted.xyxy[people])
            if predicted.tracker_id is not None:
                fallback = self._last_result or at
                ages.append(
                    np.array(
                        [
                            (at - self._verified.get(track, fallback)).total_seconds()
                            for track in predicted.tracker_id[people].tolist()
                        ]
                    )
                )
            last = self._last_result
        return PeopleView(
            boxes=np.concatenate(boxes).astype(np.float32).reshape(-1, 4),
            ages_s=np.abs(np.concatenate(ages)).astype(np.float32) if ages else np.zeros(0, np.float32),
            detection_age_s=None if last is None else abs((at - last).total_seconds()),
            width=self._frame_size.width if self._frame_size is not None else self._width,
        )

    # -- internals -------------------------------------------------------------------------------------

    def _choose(self, mask: NDArray[np.bool_] | None, at: datetime) -> RegionPlan:
        if not self._gating or mask is None:
            return RegionPlan((Region.full(),))
        if self._confirming or self._stale_tracks(at):
            # Confirmation and re-verification look at the whole frame: the detector's output on a crop is
            # not stable enough for a still object to keep matching its track (measured on vtest.avi).
            return RegionPlan((Region.full(),))
        return self._selector.plan(mask, at)

    def _stale_tracks(self, at: datetime) -> list[Region]:
        """Boxes (normalized) of tracks not verified by a detection for ``reverify_s``."""
        size = self._frame_size
        if size is None:
            return []
        predicted = self._tracker.predict(at)
        if predicted.tracker_id is None or not len(predicted):
            return []
        regions: list[Region] = []
        for box, track in zip(predicted.xyxy.tolist(), predicted.tracker_id.tolist(), strict=True):
            seen = self._verified.get(track)
            if seen is not None and at - seen < self._reverify:
                continue
            regions.append(
                Region.clipped(
                    box[0] / size.width, box[1] / size.height, box[2] / size.width, box[3] / size.height
                )
            )
        return regions

    def _feed_predictions(self, at: datetime) -> list[EventChange]:
        if (
            self._rules is None
            or self._in_flight
            or (self._last_rules is not None and at <= self._last_rules)
        ):
            return []
        self._last_rules = at
        return self._rules.update(self._tracker.predict(at), at)

    def _reset_rules(self, size: FrameSize) -> None:
        self._frame_size = size
        self._rules = RuleEngine.for_camera(self._camera, size, self._class_names)
        self._tracker.reset()

    def _detected(
        self, rgb: NDArray[np.uint8], at: datetime, pending: _Pending, result: DetectionResult
    ) -> None:
        called = time.monotonic()
        found = result.detections
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            if self._rules is None or (self._last_rules is not None and at <= self._last_rules):
                return
            candidates = found[np.isin(found.class_id, self._tracked)]
            tracked = self._tracker.update(candidates, at)
            self._confirming = self._unconfirmed(candidates, tracked)
            self._last_rules = at
            changes = self._rules.update(tracked, at)
            people = self._people_in(found, at)
            self._remember(tracked, at, rgb, people)
            self._remember_people(found, at)
        if not changes:
            return
        queued_at = called - (result.detector_ms + result.waited_ms) / 1000.0
        times = StageTimes(
            plan_ms=pending.age_ms,
            submit_ms=(queued_at - pending.received) * 1000.0,
            queued_ms=result.waited_ms,
            detector_ms=result.detector_ms,
            rules_ms=(time.monotonic() - called) * 1000.0,
        )
        self._emit(changes, _BestFrame(1.0, at, rgb, people), pending.received, times)

    def _note_empty(self, regions: Sequence[Region], result: DetectionResult) -> None:
        """Keep the job's regions that hold no detection at all (of any class), unless the job failed."""
        if result.error or not self._gating:
            return
        found = result.detections
        size = self._frame_size
        if size is None:
            return
        centres_x = (found.xyxy[:, 0] + found.xyxy[:, 2]) / (2 * size.width)
        centres_y = (found.xyxy[:, 1] + found.xyxy[:, 3]) / (2 * size.height)
        empty = [
            region
            for region in regions
            if not any(
                region.contains_point(x, y)
                for x, y in zip(centres_x.tolist(), centres_y.tolist(), strict=True)
            )
        ]
        if empty:
            with self._lock:
                self._empty.extend(empty)

    def _remember_people(self, found: Detections, at: datetime) -> None:
        """Keep this result's person boxes for the rendition (lock held)."""
        self._last_result = at if self._last_result is None else max(at, self._last_result)
        people = found[np.isin(found.class_id, self._people)]
        self._recent_people = [(seen, dets) for seen, dets in self._recent_people if at - seen < _PEOPLE_HOLD]
        if len(people):
            self._recent_people.append((at, people))

    def _unconfirmed(self, candidates: Detections, tracked: Detections) -> list[Region]:
        """Boxes that may start a track but are not confirmed yet: looked at again on the next frames.

        Without this an object that is already still when first seen (a parked car at startup) would get
        one detection per full-frame check and never reach the tracker's confirmation count.
        """
        size = self._frame_size
        if size is None:
            return []
        fresh = candidates.confidence >= self._tracker.settings.new_track_score
        if len(tracked):
            known = (candidates.xyxy[:, None, :] == tracked.xyxy[None, :, :]).all(axis=2).any(axis=1)
            fresh &= ~known
        return [
            Region.clipped(x1 / size.width, y1 / size.height, x2 / size.width, y2 / size.height)
            for x1, y1, x2, y2 in candidates.xyxy[fresh].tolist()
        ]

    def _people_in(self, found: Detections, at: datetime) -> Detections:
        """Every person box to redact: this frame's detections plus person tracks the detector missed."""
        predicted = self._tracker.predict(at)
        untracked = Detections(predicted.xyxy, predicted.confidence, predicted.class_id)
        both = Detections.merge([found, untracked])
        return both[np.isin(both.class_id, self._people)]

    def _remember(
        self, tracked: Detections, at: datetime, rgb: NDArray[np.uint8], people: Detections
    ) -> None:
        if tracked.tracker_id is None:
            return
        for track, score in zip(tracked.tracker_id.tolist(), tracked.confidence.tolist(), strict=True):
            self._verified[track] = at
            best = self._best.get(track)
            if best is None or score > best.score:
                self._best[track] = _BestFrame(score, at, rgb, people)
        horizon = at - timedelta(seconds=30)
        for track, seen in list(self._verified.items()):
            if seen < horizon:
                del self._verified[track]
                self._best.pop(track, None)
        if len(self._best) > _BEST_FRAMES:
            for track in sorted(self._best, key=lambda key: self._best[key].at)[
                : len(self._best) - _BEST_FRAMES
            ]:
                del self._best[track]

    def _emit(
        self,
        changes: Sequence[EventChange],
        current: _BestFrame | None,
        received: float = 0.0,
        times: StageTimes | None = None,
    ) -> None:
        """Publish ``changes``; a started event's snapshot is written right after all of them are published.

        An ended event's best frame is written first (it sets the event's ``best_at``). The snapshot of a
        started event is the frame that started it, so it can follow: the alarm is not held up by the
        redaction and JPEG encoding of every person box in the frame (``GET /api/events/{id}/snapshot.jpg``
        answers 404 ``no_snapshot`` for those few milliseconds).
        """
        ready = time.monotonic()
        started: list[EventChange] = []
        for change in changes:
            if change.change is EventChangeKind.STARTED:
                started.append(change)
            else:
                change = self._with_snapshot(change, current)
            self._on_event(change)
            if received and self._services.on_latency is not None:
                self._services.on_latency(time.monotonic() - received)
            if times is not None and change.change is EventChangeKind.STARTED:
                _log_started(change.event, times, (time.monotonic() - ready) * 1000.0)
        for change in started:
            self._with_snapshot(change, current)

    def _with_snapshot(self, change: EventChange, current: _BestFrame | None) -> EventChange:
        event = change.event
        best = self._best.get(event.track_id) if event.track_id is not None else None
        if change.change is EventChangeKind.STARTED:
            shot = current if current is not None and current.at == event.start else best
            if shot is not None:
                self._write(event, shot)
            return change
        if best is not None and event.end is not None and event.start <= best.at <= event.end:
            self._write(event, best)
            return EventChange(change.change, replace(event, best_at=best.at))
        if not self._snapshots.path(event.camera_id, event.id).exists() and current is not None:
            self._write(event, current)
        return change

    def _write(self, event: Event, shot: _BestFrame) -> None:
        redacted = self._redactor.apply(shot.frame, shot.people)
        self._snapshots.write(event.camera_id, event.id, redacted)


def _log_started(event: Event, times: StageTimes, emit_ms: float) -> None:
    """One line per started object event: its frame's age when published, split by stage."""
    total = times.plan_ms + times.submit_ms + times.queued_ms + times.detector_ms + times.rules_ms + emit_ms
    log.info(
        "camera %s: event %s (%s) started %.1f ms after its frame: plan_ms=%.1f submit_ms=%.1f "
        "queued_ms=%.1f detector_ms=%.1f rules_ms=%.1f emit_ms=%.1f",
        event.camera_id,
        event.id,
        event.rule or event.kind.value,
        total,
        times.plan_ms,
        times.submit_ms,
        times.queued_ms,
        times.detector_ms,
        times.rules_ms,
        emit_ms,
    )
