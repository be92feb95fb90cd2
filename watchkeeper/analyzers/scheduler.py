"""One detector shared by every camera: a fair, bounded queue in front of it.

Each camera has its own small queue (``queue_depth`` jobs). When a camera submits to a full queue its
**oldest** job is dropped and counted (the newest frame is the one worth detecting), so a busy camera never
grows a backlog. Worker threads take jobs round-robin across cameras that have work, so a camera that floods
the service gets one turn per round like every other camera and cannot starve them. A camera holding an
**urgent** job (one whose result may raise an alarm: a camera with rules confirming a new track) may take
its turn out of order, but never twice in a row: every out-of-order turn is followed by one in round-robin
order. So an urgent job waits for at most the job running and one other, and any other job for at most
twice the turns plain round-robin would make it wait.

A job is one frame and the regions to look at; the detector runs once per region on the crop (or once per
pair of regions packed side by side, see ``packing.py``), and the results are shifted back to frame pixels
and merged into one ``Detections``. The job's callback runs on the
worker thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from watchkeeper.analyzers.detect.errors import DetectorError
from watchkeeper.analyzers.detect.protocol import Detector
from watchkeeper.analyzers.packing import Crop, pack_pair
from watchkeeper.analyzers.regions import Region
from watchkeeper.domain import CameraId
from watchkeeper.domain.detections import Detections

log = logging.getLogger(__name__)

_LATENCY_WINDOW = 2048


@dataclass(frozen=True, slots=True)
class DetectionResult:
    """What the detector found in one job's frame.

    Attributes:
        detections: Boxes in pixels of the job's frame.
        detector_ms: Time spent in the detector for this job (all regions).
        waited_ms: Time the job spent queued.
        error: Why detection failed (``detections`` is then empty), or ``""``.
    """

    detections: Detections
    detector_ms: float
    waited_ms: float
    error: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class DetectionJob:
    """One frame of one camera to run the detector on.

    Attributes:
        camera_id: The camera (the fairness key).
        frame: ``(H, W, 3)`` uint8 RGB frame.
        regions: Where to look (normalized); empty means the whole frame.
        at: Frame time.
        on_done: Called with the result on the worker thread (exceptions are logged, not raised).
        urgent: Asked (on the detector thread, when it picks its next job) whether the job's result may
            raise an alarm now; ``None``: never. Asked late on purpose: a camera's job is often queued
            before the result that makes it urgent (a new track to confirm) comes back.
        submitted: ``time.monotonic()`` at submission (set by ``submit``).
    """

    camera_id: CameraId
    frame: NDArray[np.uint8]
    regions: tuple[Region, ...]
    at: datetime
    on_done: Callable[[DetectionResult], None]
    urgent: Callable[[], bool] | None = None
    submitted: float = field(default_factory=time.monotonic)


def detect_regions(detector: Detector, frame: NDArray[np.uint8], regions: Sequence[Region]) -> Detections:
    """Run ``detector`` on each region's crop of ``frame`` and merge the results in frame pixels.

    Args:
        detector: The detector.
        frame: ``(H, W, 3)`` uint8 RGB frame.
        regions: Normalized regions; empty means the whole frame.

    Returns:
        The detections of every region, boxes in pixels of ``frame``.
    """
    height, width = frame.shape[:2]
    if not regions or any(region.is_full for region in regions):
        return detector.detect(frame)
    crops = [Crop(*region.to_pixels(width, height)) for region in regions]
    parts: list[Detections] = []
    index = 0
    while index < len(crops):
        packed = pack_pair(frame, crops[index], crops[index + 1]) if index + 1 < len(crops) else None
        if packed is not None:  # two crops, one detector run
            parts.append(packed.unpack(detector.detect(packed.canvas)))
            index += 2
            continue
        crop = crops[index]
        found = detector.detect(np.ascontiguousarray(frame[crop.y1 : crop.y2, crop.x1 : crop.x2]))
        if len(found):
            offset = np.array([crop.x1, crop.y1, crop.x1, crop.y1], dtype=np.float32)
            parts.append(Detections(found.xyxy + offset, found.confidence, found.class_id))
        index += 1
    return Detections.merge(parts)


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    """Queueing of the shared detector.

    Attributes:
        queue_depth: Jobs queued per camera; a new job beyond this drops the camera's oldest.
        workers: Threads running the detector (1 suits a small CPU; the detector itself uses every core).
    """

    queue_depth: int = 1
    workers: int = 1

    def __post_init__(self) -> None:
        """Check the values."""
        if self.queue_depth < 1 or self.workers < 1:
            raise ValueError(
                f"need queue_depth >= 1 and workers >= 1, got {self.queue_depth}, {self.workers}"
            )


@dataclass(frozen=True, slots=True)
class SchedulerStats:
    """Counters of the shared detector since it started.

    Attributes:
        submitted: Jobs submitted.
        completed: Jobs the detector ran (including failures).
        dropped: Jobs dropped because their camera's queue was full (or the service stopped).
        failed: Jobs whose detector run raised ``DetectorError``.
        dropped_by_camera: ``dropped`` per camera, as ``(camera, count)`` rows sorted by camera.
        completed_by_camera: ``completed`` per camera, as ``(camera, count)`` rows sorted by camera.
        detector_ms: Recent per-job detector times (newest last, at most 2048).
    """

    submitted: int
    completed: int
    dropped: int
    failed: int
    dropped_by_camera: tuple[tuple[str, int], ...]
    completed_by_camera: tuple[tuple[str, int], ...]
    detector_ms: tuple[float, ...]

    def percentile_ms(self, q: float) -> float:
        """The ``q``-th percentile (0-100) of the recent detector times, 0 when there are none."""
        if not self.detector_ms:
            return 0.0
        return float(np.percentile(np.array(self.detector_ms), q))


class DetectorService:
    """The shared detector: ``submit`` jobs from camera threads; worker threads run them round-robin."""

    def __init__(self, detector: Detector, settings: SchedulerSettings | None = None) -> None:
        """Wrap ``detector`` (not started: call ``start``)."""
        self._detector = detector
        self._settings = settings or SchedulerSettings()
        self._cond = threading.Condition()
        self._queues: dict[CameraId, deque[DetectionJob]] = {}
        self._order: deque[CameraId] = deque()
        self._jumped = False
        """The last turn went to an urgent camera out of round-robin order (the next one may not)."""
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._submitted = self._completed = self._dropped = self._failed = 0
        self._dropped_by: dict[str, int] = {}
        self._completed_by: dict[str, int] = {}
        self._latencies: deque[float] = deque(maxlen=_LATENCY_WINDOW)

    @property
    def detector(self) -> Detector:
        """The wrapped detector."""
        return self._detector

    @property
    def class_names(self) -> Sequence[str]:
        """The detector's class names."""
        return self._detector.class_names

    def start(self) -> None:
        """Start the worker threads (idempotent)."""
        with self._cond:
            if self._threads:
                return
            self._stopping = False
            self._threads = [
                threading.Thread(target=self._run, name=f"detector-{index}", daemon=True)
                for index in range(self._settings.workers)
            ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the workers; queued jobs are dropped (and counted)."""
        with self._cond:
            self._stopping = True
            for camera, queue in self._queues.items():
                self._count_drop(camera, len(queue))
                queue.clear()
            self._order.clear()
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout)

    def submit(self, job: DetectionJob) -> bool:
        """Queue ``job``; returns False when it displaced an older job of its camera (or was refused).

        A stopped service refuses the job (counted as dropped).
        """
        with self._cond:
            self._submitted += 1
            if self._stopping:
                self._count_drop(job.camera_id, 1)
                return False
            queue = self._queues.setdefault(job.camera_id, deque())
            displaced = len(queue) >= self._settings.queue_depth
            if displaced:
                queue.popleft()
                self._count_drop(job.camera_id, 1)
            queue.append(job)
            if job.camera_id not in self._order:
                self._order.append(job.camera_id)
            self._cond.notify()
            return not displaced

    def run_once(self, timeout: float = 0.0) -> bool:
        """Run the next job in round-robin order on the calling thread; False when there was none.

        Used by the workers, and directly by tests and benchmarks that want no threads.
        """
        job = self._next(timeout)
        if job is None:
            return False
        self._execute(job)
        return True

    def stats(self) -> SchedulerStats:
        """A consistent copy of the counters."""
        with self._cond:
            return SchedulerStats(
                submitted=self._submitted,
                completed=self._completed,
                dropped=self._dropped,
                failed=self._failed,
                dropped_by_camera=tuple(sorted(self._dropped_by.items())),
                completed_by_camera=tuple(sorted(self._completed_by.items())),
                detector_ms=tuple(self._latencies),
            )

    def pending(self) -> int:
        """Jobs waiting now."""
        with self._cond:
            return sum(len(queue) for queue in self._queues.values())

    def _count_drop(self, camera: CameraId, count: int) -> None:
        if count:
            self._dropped += count
            self._dropped_by[camera] = self._dropped_by.get(camera, 0) + count

    def _next(self, timeout: float) -> DetectionJob | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._order:
                remaining = deadline - time.monotonic()
                if self._stopping or remaining <= 0:
                    return None
                self._cond.wait(remaining)
            camera = self._pick()
            queue = self._queues[camera]
            job = queue.popleft()
            if queue:
                self._order.append(camera)
            return job

    def _pick(self) -> CameraId:
        """The camera whose turn it is (lock held, ``_order`` not empty).

        The first in round-robin order, or the first holding an urgent job when the last turn was not
        already taken out of order.
        """
        urgent = None
        if not self._jumped:
            urgent = next((camera for camera in self._order if self._urgent(camera)), None)
        chosen = self._order[0] if urgent is None else urgent
        self._jumped = chosen != self._order[0]
        self._order.remove(chosen)
        return chosen

    def _urgent(self, camera: CameraId) -> bool:
        """True when any queued job of ``camera`` says its result may raise an alarm (lock held)."""
        return any(job.urgent is not None and job.urgent() for job in self._queues[camera])

    def _execute(self, job: DetectionJob) -> None:
        started = time.monotonic()
        error = ""
        try:
            found = detect_regions(self._detector, job.frame, job.regions)
        except (DetectorError, ValueError) as err:
            log.warning("detector failed on a frame of camera %s: %s", job.camera_id, err)
            found, error = Detections.empty(), str(err)
        took_ms = (time.monotonic() - started) * 1000.0
        with self._cond:
            self._completed += 1
            self._failed += bool(error)
            self._completed_by[job.camera_id] = self._completed_by.get(job.camera_id, 0) + 1
            self._latencies.append(took_ms)
        result = DetectionResult(found, took_ms, (started - job.submitted) * 1000.0, error)
        try:
            job.on_done(result)
        except (ValueError, RuntimeError, OSError) as err:
            log.exception("detection callback of camera %s failed: %s", job.camera_id, err)  # noqa: TRY401

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
            self.run_once(timeout=0.5)
