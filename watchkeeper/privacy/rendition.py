"""The protected rendition: every camera's analysis frames, redacted, as H.264 fMP4 segments.

``PrivacyTap`` is a ``FrameTap`` of the analysis sampler: it takes the decoded detect-stream frame, scales
it to the rendition size (``privacy.rendition.width``, default the analysis width), builds a
``PrivacyScene`` from what the analysis knows at that instant (recent person detections and the tracker's
predicted person tracks with their age, the motion mask, the last face boxes) and redacts it with the
camera's ``PrivacyRedactor``. The redacted frame

* is encoded into the protected rendition (``SegmentEncoder``, indexed with ``rendition='protected'``,
  cut at the original segments' boundaries through ``cut``), at ``privacy.rendition.fps``;
* becomes ``latest.jpg`` (so the live still a viewer sees is redacted too).

``take`` runs in two parts: ``capture`` on the input thread (which frames are due, and the people and motion
the analysis knows at that instant: cheap) and ``render`` (scaling, faces, redaction, encoding, the
snapshot: the cost). With ``PrivacyServices.thread`` set, ``render`` runs on the camera's own
lower-priority rendition thread (``rendition_thread.py``), so the alarm path goes first; without it, on the
input thread right away.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import numpy as np
from av.video.frame import VideoFrame
from numpy.typing import NDArray

from watchkeeper.analyzers.snapshot import SnapshotWriter, snapshot_path
from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.detection import DetectionConfig
from watchkeeper.config.privacy import PrivacyConfig
from watchkeeper.domain import CameraId, Segment, utcnow
from watchkeeper.privacy.encoder import EncoderError, EncoderSettings, SegmentEncoder
from watchkeeper.privacy.faces import FaceDetector
from watchkeeper.privacy.live import LiveOriginals
from watchkeeper.privacy.redaction import PrivacyRedactor, PrivacyScene, RedactionSettings
from watchkeeper.privacy.rendition_thread import RenditionThread, RenditionThreadSettings

log = logging.getLogger(__name__)

LATE_S = 1.0
"""A rendition frame done more than this after its packet arrived counts as late (logged per camera)."""

FrameObserver = Callable[[NDArray[np.uint8], NDArray[np.uint8], datetime], None]
"""Receives (unredacted, redacted, at) for every rendition frame: benchmarks and tests only."""


@dataclass(frozen=True, slots=True, eq=False)
class PeopleView:
    """Person boxes the analysis knows at one instant.

    Attributes:
        boxes: ``(N, 4)`` xyxy in pixels of a frame ``width`` wide.
        ages_s: ``(N,)`` seconds since a detection last confirmed each box.
        detection_age_s: Seconds since the newest detector result (``None``: never).
        width: Width of the frame the boxes are in.
    """

    boxes: NDArray[np.float32]
    ages_s: NDArray[np.float32]
    detection_age_s: float | None
    width: int


class PeopleSource(Protocol):
    """The object pipeline, as the rendition sees it."""

    def people_view(self, at: datetime) -> PeopleView:
        """Person boxes to redact at ``at``."""
        ...


@dataclass(frozen=True, slots=True)
class PrivacyServices:
    """What every camera's privacy tap shares: the settings, the face detector, the segment length."""

    config: PrivacyConfig
    segment_seconds: float = 10.0
    person_classes: tuple[int, ...] = (0,)
    faces: FaceDetector | None = None
    live: LiveOriginals | None = None
    """Where unredacted frames go while an entitled viewer watches live originals (break glass)."""
    thread: RenditionThreadSettings | None = None
    """Render on a lower-priority thread per camera (``None``: on the input thread, as it takes them)."""


@dataclass(frozen=True, slots=True, eq=False)
class RenditionFrame:
    """A frame the tap took and what the analysis knew when it arrived, to be rendered (maybe later).

    Attributes:
        frame: The decoded frame (detect-stream size).
        at: When its packet arrived.
        people: The analysis's person boxes at ``at`` (``None``: no object pipeline).
        motion: A copy of the motion mask at ``at`` (``None``: none yet).
        encode: Whether it is a rendition frame.
        snapshot: Whether it becomes ``latest.jpg``.
    """

    frame: VideoFrame
    at: datetime
    people: PeopleView | None
    motion: NDArray[np.bool_] | None
    encode: bool
    snapshot: bool


def redactor_for(
    camera: CameraConfig, config: PrivacyConfig, person_classes: Sequence[int]
) -> PrivacyRedactor:
    """The redactor of one camera: the ``privacy`` settings plus the camera's static masks."""
    settings = RedactionSettings(
        style=config.style,
        margin=config.margin,
        grow_per_s=config.grow_per_s,
        fresh_s=config.fresh_s,
        blur_motion=config.blur_motion,
    )
    return PrivacyRedactor(settings, [mask.polygon for mask in camera.privacy_masks], person_classes)


class PrivacyTap:
    """A ``FrameTap``: redacts analysis frames into the protected rendition and ``latest.jpg``."""

    def __init__(
        self,
        camera: CameraConfig,
        detection: DetectionConfig,
        media_root: Path,
        services: PrivacyServices,
        people: PeopleSource | None = None,
        motion: Callable[[], NDArray[np.bool_] | None] | None = None,
    ) -> None:
        """Build the camera's redactor, encoder and snapshot writer (nothing is written yet)."""
        config = services.config
        self.camera_id = CameraId(camera.id)
        self._redactor = redactor_for(camera, config, services.person_classes)
        self._people = people
        self._motion = motion
        self._faces = services.faces
        self._live = services.live
        self._face_every = timedelta(seconds=config.faces.interval_s)
        self._face_idle = timedelta(seconds=max(config.faces.interval_s, config.faces.idle_interval_s))
        self._face_boxes = np.zeros((0, 4), dtype=np.float32)
        self._face_at: datetime | None = None
        self._width = config.rendition.width or detection.width
        fps = min(config.rendition.fps or detection.fps, detection.fps)
        self._period = timedelta(seconds=1.0 / fps)
        self._next_due: datetime | None = None
        self._encoder = (
            SegmentEncoder(
                EncoderSettings(
                    media_root,
                    self.camera_id,
                    segment_seconds=services.segment_seconds,
                    fps=fps,
                    crf=config.rendition.crf,
                )
            )
            if config.rendition.enabled
            else None
        )
        self._snapshot = SnapshotWriter(snapshot_path(media_root, self.camera_id))
        self._observers: list[FrameObserver] = []
        self._max_lag_s = 0.0
        self._late = 0
        self._thread: RenditionThread[RenditionFrame] | None = (
            None
            if services.thread is None
            else RenditionThread(f"rendition-{camera.id}", self.render, services.thread)
        )

    @property
    def redactor(self) -> PrivacyRedactor:
        """The camera's redactor."""
        return self._redactor

    @property
    def encoder(self) -> SegmentEncoder | None:
        """The rendition encoder (``None`` when the rendition is off)."""
        return self._encoder

    def observe(self, observer: FrameObserver) -> None:
        """Also hand every rendition frame (before and after redaction) to ``observer``."""
        self._observers.append(observer)

    def attach(self, sink: Callable[[Segment], None]) -> None:
        """Index complete rendition segments with ``sink``."""
        if self._encoder is not None:
            self._encoder.attach(sink)

    def cut(self, at: datetime) -> None:
        """An original segment ended at ``at``: cut the rendition there too."""
        if self._encoder is not None:
            self._encoder.cut(at)

    def due(self, at: datetime) -> bool:
        """True when the frame at ``at`` is a rendition frame or the next ``latest.jpg``."""
        return self._rendition_due(at) or self._snapshot.due(at)

    def take(self, frame: VideoFrame, at: datetime) -> None:
        """Redact the frame; encode it and/or write it as ``latest.jpg`` (now, or on the rendition thread)."""
        job = self.capture(frame, at)
        if self._thread is not None:
            self._thread.put(job)
        else:
            self.render(job)

    def capture(self, frame: VideoFrame, at: datetime) -> RenditionFrame:
        """What ``render`` needs of the frame at ``at``, taken now (on the input thread)."""
        encode = self._rendition_due(at)
        if encode:
            self._next_due = at + self._period
        motion = self._motion() if self._motion is not None else None
        return RenditionFrame(
            frame=frame,
            at=at,
            people=self._people.people_view(at) if self._people is not None else None,
            motion=None if motion is None else motion.copy(),
            encode=encode,
            snapshot=self._snapshot.claim(at),
        )

    def render(self, job: RenditionFrame) -> None:
        """Scale, redact, and encode and/or write as ``latest.jpg`` one captured frame."""
        frame, at = job.frame, job.at
        width = min(self._width, frame.width) // 2 * 2
        height = max(2, round(frame.height * width / max(1, frame.width)) // 2 * 2)
        rgb: NDArray[np.uint8] = np.ascontiguousarray(
            frame.reformat(width=width, height=height, format="rgb24").to_ndarray(), dtype=np.uint8
        )
        if self._live is not None:  # live originals (break glass): unredacted but for the static masks
            if self._live.wanted(self.camera_id):
                self._live.offer(self.camera_id, self._redactor.masks_only(rgb), at)
            else:
                self._live.forget(self.camera_id)
        redacted = self._redactor.redact(rgb, self._scene_of(rgb, at, job.people, job.motion))
        if job.encode:
            for observer in self._observers:
                observer(rgb, redacted, at)
            self._encode(redacted, at)
        if job.snapshot:
            self._snapshot.write(VideoFrame.from_ndarray(redacted, format="rgb24"))
        lag_s = (utcnow() - at).total_seconds()
        self._max_lag_s = max(self._max_lag_s, lag_s)
        self._late += lag_s > LATE_S

    def scene(self, rgb: NDArray[np.uint8], at: datetime) -> PrivacyScene:
        """What is known now about the frame ``rgb`` taken at ``at``, in its pixels."""
        motion = self._motion() if self._motion is not None else None
        people = self._people.people_view(at) if self._people is not None else None
        return self._scene_of(rgb, at, people, motion)

    def _scene_of(
        self,
        rgb: NDArray[np.uint8],
        at: datetime,
        view: PeopleView | None,
        motion: NDArray[np.bool_] | None,
    ) -> PrivacyScene:
        width = rgb.shape[1]
        people = np.zeros((0, 4), dtype=np.float32)
        ages = np.zeros(0, dtype=np.float32)
        detection_age: float | None = None
        if view is not None:
            people = view.boxes * np.float32(width / max(1, view.width))
            ages, detection_age = view.ages_s, view.detection_age_s
        changing = len(people) > 0 or (motion is not None and bool(motion.any()))
        return PrivacyScene(
            people=people,
            ages_s=ages,
            faces=self._faces_of(rgb, at, changing),
            motion=motion,
            detection_age_s=detection_age,
            blind=self._people is not None and detection_age is None,
        )

    def finish(self) -> None:
        """The stream ended: render what is queued, then close the open rendition segment."""
        self._next_due = None
        if self._thread is not None:
            self._thread.drain()
            stats = self._thread.stats
            log.info(
                "camera %s: protected rendition thread: %d frames (%d failed, %d dropped, %d done more than "
                "%.0f s after their arrival), lag max %.0f ms",
                self.camera_id,
                stats.jobs,
                stats.failed,
                stats.dropped,
                self._late,
                LATE_S,
                self._max_lag_s * 1000.0,
            )
        if self._encoder is not None:
            try:
                self._encoder.finish()
            except EncoderError as err:
                log.warning("camera %s: protected rendition: %s", self.camera_id, err)

    def _rendition_due(self, at: datetime) -> bool:
        due = self._next_due
        return self._encoder is not None and (due is None or at >= due or at < due - self._period)

    def _encode(self, redacted: NDArray[np.uint8], at: datetime) -> None:
        if self._encoder is None:
            return
        try:
            self._encoder.write(redacted, at)
        except EncoderError as err:
            log.warning("camera %s: protected rendition: %s", self.camera_id, err)

    def _faces_of(self, rgb: NDArray[np.uint8], at: datetime, changing: bool) -> NDArray[np.float32]:
        """Face boxes, kept between detector runs.

        The detector runs every ``faces.interval_s`` while the scene changes (motion or people) or faces
        were found last time, else every ``faces.idle_interval_s``.
        """
        if self._faces is None:
            return self._face_boxes
        last = self._face_at
        wait = self._face_every if changing or len(self._face_boxes) else self._face_idle
        if last is None or at - last >= wait or at < last:
            self._face_at = at
            self._face_boxes = self._faces.detect(rgb)
        return self._face_boxes
