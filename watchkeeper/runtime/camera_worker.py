"""Camera workers: one thread per camera input, reconnecting with backoff, feeding recorder and analyzers.

A camera whose record and detect roles are on the same input is demuxed once; both consumers get the
same packets. A dead camera never crashes the process: its worker reports ``offline``/``stalled`` with a
reason and retries with capped exponential backoff and jitter. An input that sends packets but no
keyframe for ``max(stall timeout, 3 segment lengths)`` counts as stalled too (nothing could be recorded).
A video codec the MP4 muxer refuses is streamed for detection only and reported as not recorded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from watchkeeper.config.cameras import CameraConfig, CameraInputConfig
from watchkeeper.config.detection import DetectionConfig
from watchkeeper.config.recording import RecordingConfig
from watchkeeper.domain import CameraId, CameraState, CameraStatus, Segment, utcnow
from watchkeeper.events.motion import EventChange
from watchkeeper.privacy.masked import MaskedRecorder
from watchkeeper.recorder.diskfull import DiskFullGuard, FreeSpace
from watchkeeper.recorder.segmenter import RecorderError, Segmenter, SegmenterSettings, SegmentFinisher
from watchkeeper.runtime.analysis import build_analysis_consumer
from watchkeeper.runtime.metrics import CameraCounters, InputCounters
from watchkeeper.runtime.objects import AnalysisServices
from watchkeeper.sources import (
    Backoff,
    OpenedStream,
    PyAVSource,
    ReceivedPacket,
    SourceSpec,
    SourceUnavailableError,
    StreamStalledError,
    mp4_unrecordable_reason,
)

log = logging.getLogger(__name__)


class PacketConsumer(Protocol):
    """Anything fed from a demuxed input: the segmenter, the frame sampler."""

    def begin(self, stream: OpenedStream) -> None:
        """A new connection opened."""
        ...

    def write(self, item: ReceivedPacket) -> None:
        """One packet."""
        ...

    def finish(self) -> None:
        """The connection ended."""
        ...


@dataclass(frozen=True, slots=True)
class WorkerCallbacks:
    """Where a worker reports what it produced (wired to the store and the bus by ``runtime.wiring``)."""

    on_status: Callable[[CameraStatus], None]
    on_segment: Callable[[Segment], None]
    on_event: Callable[[EventChange], None]
    on_disk_full: FreeSpace | None = None
    """Evicts the oldest footage when a segment write hits a full disk (recording then continues)."""


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """Everything a camera worker needs from the configuration."""

    camera: CameraConfig
    recording: RecordingConfig
    detection: DetectionConfig
    media_root: Path
    loop_files: bool = True
    analysis: AnalysisServices | None = None
    """The shared detector and redactor; ``None`` runs motion (and tamper) analysis only."""
    finisher: SegmentFinisher | None = None
    """Seals each finished original segment (encryption at rest); ``None`` renames it as written."""


def _source_spec(item: CameraInputConfig, recording: RecordingConfig, loop_files: bool) -> SourceSpec:
    return SourceSpec(
        url=item.url.get_secret_value(),
        redacted_url=item.redacted_url,
        transport=item.transport,
        open_timeout_s=float(recording.stall_timeout_s),
        stall_timeout_s=float(recording.stall_timeout_s),
        loop_files=loop_files,
        keyframe_timeout_s=max(
            float(recording.stall_timeout_s), KEYFRAME_TIMEOUT_SEGMENTS * recording.segment_seconds
        ),
    )


KEYFRAME_TIMEOUT_SEGMENTS = 3
"""An input with no keyframe for this many segment lengths (at least the stall timeout) is stalled."""


class RecordingGate:
    """Feeds the segmenter only with video the MP4 muxer accepts as it is; reports the codec otherwise."""

    def __init__(self, segmenter: PacketConsumer, on_problem: Callable[[str], None]) -> None:
        """Wrap ``segmenter``; ``on_problem`` gets the reason recording is off, or "" when it is on."""
        self._segmenter = segmenter
        self._on_problem = on_problem
        self._recording = False

    def begin(self, stream: OpenedStream) -> None:
        """Check the new connection's video codec, then start the segmenter if it can be recorded."""
        reason = mp4_unrecordable_reason(stream.video)
        self._recording = reason is None
        self._on_problem(f"not recording: {reason}" if reason else "")
        if reason:
            log.error("%s; streaming for detection only", reason)
            return
        codec = stream.video.codec_context.name
        if codec != "h264":
            log.info("recording %s video as it is (browsers may not play it back natively)", codec)
        self._segmenter.begin(stream)

    def write(self, item: ReceivedPacket) -> None:
        """Pass the packet on when recording."""
        if self._recording:
            self._segmenter.write(item)

    def finish(self) -> None:
        """Close the open segment, if any."""
        if self._recording:
            self._recording = False
            self._segmenter.finish()


class InputWorker:
    """A thread that keeps one input connected and pushes its packets to its consumers."""

    def __init__(
        self,
        name: str,
        source: PyAVSource,
        consumers: list[PacketConsumer],
        backoff: Backoff,
        report: Callable[[CameraState, str], None],
        counters: InputCounters,
    ) -> None:
        """Prepare the worker; ``start()`` launches the thread."""
        self._source = source
        self._consumers = consumers
        self._backoff = backoff
        self._report = report
        self.counters = counters
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to stop at its next packet (or when its read times out)."""
        self._stop.set()

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the thread to stop and wait for it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        attempts = 0
        while not self._stop.is_set():
            if attempts:
                self.counters.reconnects += 1
            attempts += 1
            self._report(CameraState.CONNECTING, "")
            state, reason = self._session()
            if self._stop.is_set():
                break
            if state is CameraState.STALLED:
                self.counters.stalls += 1
            self._report(state, reason)
            self._stop.wait(self._backoff.next_delay())
        self._report(CameraState.OFFLINE, "stopped")

    def _session(self) -> tuple[CameraState, str]:
        """One connection: open, stream until it fails; return the resulting state and reason."""
        try:
            with self._source.open() as stream:
                for consumer in self._consumers:
                    consumer.begin(stream)
                try:
                    self._pump(stream)
                finally:
                    self._finish_consumers()
        except StreamStalledError as err:
            return CameraState.STALLED, str(err)
        except SourceUnavailableError as err:
            return CameraState.OFFLINE, str(err)
        except RecorderError as err:
            log.error("recording failed: %s", err)  # noqa: TRY400 - the message is the whole story
            return CameraState.OFFLINE, f"recording failed: {err}"
        return CameraState.OFFLINE, "stream ended"

    def _pump(self, stream: OpenedStream) -> None:
        streaming = False
        counters = self.counters
        video = stream.video.index
        for item in stream.packets():
            if not streaming:
                streaming = True
                self._backoff.reset()
                self._report(CameraState.STREAMING, "")
            counters.received_bytes += item.packet.size
            if item.packet.stream_index == video:
                counters.frames += 1
            for consumer in self._consumers:
                consumer.write(item)
            if self._stop.is_set():
                return

    def _finish_consumers(self) -> None:
        for consumer in self._consumers:
            try:
                consumer.finish()
            except RecorderError as err:
                log.error("closing segment failed: %s", err)  # noqa: TRY400


class CameraWorker:
    """All input workers of one camera."""

    def __init__(self, settings: WorkerSettings, callbacks: WorkerCallbacks) -> None:
        """Build the consumers and input threads for a camera (nothing starts yet)."""
        camera = settings.camera
        self.camera_id = CameraId(camera.id)
        self._callbacks = callbacks
        self._state_lock = threading.Lock()
        self._recording_problem = ""
        self.counters = CameraCounters(camera.id)
        core = Segmenter(
            SegmenterSettings(
                settings.media_root,
                self.camera_id,
                float(settings.recording.segment_seconds),
                settings.finisher,
            ),
            self._segment_written,
        )
        recorder: PacketConsumer = core
        if callbacks.on_disk_full is not None:  # disk full: evict the oldest footage, keep recording
            recorder = DiskFullGuard(
                core, callbacks.on_disk_full, lambda reason: self._report(CameraState.STREAMING, reason)
            )
        segmenter = RecordingGate(recorder, self._set_recording_problem)
        analyser = build_analysis_consumer(
            self.camera_id,
            settings.detection,
            settings.media_root,
            callbacks.on_event,
            camera=camera,
            services=settings.analysis,
        )
        self._privacy = analyser.privacy
        if self._privacy is not None:
            self._privacy.attach(callbacks.on_segment)
            if camera.privacy.mask_originals:  # static masks burned into the originals: re-encode
                masked = MaskedRecorder(
                    self._privacy.redactor,
                    settings.media_root,
                    self.camera_id,
                    float(settings.recording.segment_seconds),
                    self._segment_written,
                )
                segmenter = RecordingGate(masked, self._set_recording_problem)
        record, detect = camera.record_input, camera.detect_input
        groups: list[tuple[CameraInputConfig, list[PacketConsumer], bool]] = (
            [(record, [analyser, segmenter], True)]
            if record is detect
            else [(record, [segmenter], True), (detect, [analyser], False)]
        )
        self.counters.inputs.extend(
            InputCounters("record" if reports else "detect") for _, _, reports in groups
        )
        self._workers = [
            InputWorker(
                name=f"camera-{camera.id}-{index}",
                source=PyAVSource(_source_spec(item, settings.recording, settings.loop_files)),
                consumers=consumers,
                backoff=Backoff(
                    float(settings.recording.reconnect_initial_s), float(settings.recording.reconnect_max_s)
                ),
                report=self._report if reports else _ignore_status,
                counters=self.counters.inputs[index],
            )
            for index, (item, consumers, reports) in enumerate(groups)
        ]
        self._last_state: CameraState | None = None

    def start(self) -> None:
        """Start every input thread."""
        for worker in self._workers:
            worker.start()

    def request_stop(self) -> None:
        """Ask every input thread to stop, without waiting."""
        for worker in self._workers:
            worker.request_stop()

    def stop(self) -> None:
        """Stop every input thread and wait for them (each closes its open segment first)."""
        self.request_stop()
        for worker in self._workers:
            worker.stop()

    def _segment_written(self, segment: Segment) -> None:
        """Index the segment (the callback), then count it and how long after its end that happened."""
        self._callbacks.on_segment(segment)
        self.counters.segment_written((utcnow() - segment.end).total_seconds())
        if self._privacy is not None:
            self._privacy.cut(segment.end)

    def _set_recording_problem(self, problem: str) -> None:
        with self._state_lock:
            self._recording_problem = problem

    def _report(self, state: CameraState, reason: str) -> None:
        with self._state_lock:
            if state is CameraState.STREAMING and not reason:
                reason = self._recording_problem
            if state is self._last_state and not reason:
                return
            self._last_state = state
            self.counters.state, self.counters.reason = state, reason
        if state in (CameraState.OFFLINE, CameraState.STALLED):
            log.warning("camera %s %s: %s", self.camera_id, state.value, reason)
        else:
            log.info("camera %s %s", self.camera_id, state.value)
        self._callbacks.on_status(CameraStatus(self.camera_id, state, utcnow(), reason))


def _ignore_status(state: CameraState, reason: str) -> None:
    """Status of a detect-only input: the record input's state is the camera's state."""
    log.debug("detect input %s %s", state.value, reason)
