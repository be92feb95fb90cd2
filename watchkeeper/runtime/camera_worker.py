"""Camera workers: one thread per camera input, reconnecting with backoff, feeding recorder and analyzers.

A camera whose record and detect roles are on the same input is demuxed once; both consumers get the
same packets. A dead camera never crashes the process: its worker reports ``offline``/``stalled`` with a
reason and retries with capped exponential backoff and jitter.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from watchkeeper.analyzers.sampler import FrameSampler, SamplerSettings
from watchkeeper.config.cameras import CameraConfig, CameraInputConfig
from watchkeeper.config.detection import DetectionConfig
from watchkeeper.config.recording import RecordingConfig
from watchkeeper.domain import CameraId, CameraState, CameraStatus, Segment, utcnow
from watchkeeper.events.motion import EventChange
from watchkeeper.recorder.segmenter import RecorderError, Segmenter, SegmenterSettings
from watchkeeper.runtime.analysis import AnalysisConsumer, MotionAnalysis
from watchkeeper.sources import (
    Backoff,
    OpenedStream,
    PyAVSource,
    ReceivedPacket,
    SourceSpec,
    SourceUnavailableError,
    StreamStalledError,
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


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """Everything a camera worker needs from the configuration."""

    camera: CameraConfig
    recording: RecordingConfig
    detection: DetectionConfig
    media_root: Path
    loop_files: bool = True


def _source_spec(item: CameraInputConfig, recording: RecordingConfig, loop_files: bool) -> SourceSpec:
    return SourceSpec(
        url=item.url.get_secret_value(),
        redacted_url=item.redacted_url,
        transport=item.transport,
        open_timeout_s=float(recording.stall_timeout_s),
        stall_timeout_s=float(recording.stall_timeout_s),
        loop_files=loop_files,
    )


class InputWorker:
    """A thread that keeps one input connected and pushes its packets to its consumers."""

    def __init__(
        self,
        name: str,
        source: PyAVSource,
        consumers: list[PacketConsumer],
        backoff: Backoff,
        report: Callable[[CameraState, str], None],
    ) -> None:
        """Prepare the worker; ``start()`` launches the thread."""
        self._source = source
        self._consumers = consumers
        self._backoff = backoff
        self._report = report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the thread to stop and wait for it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._report(CameraState.CONNECTING, "")
            state, reason = self._session()
            if self._stop.is_set():
                break
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
        for item in stream.packets():
            if not streaming:
                streaming = True
                self._backoff.reset()
                self._report(CameraState.STREAMING, "")
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
        segmenter = Segmenter(
            SegmenterSettings(settings.media_root, self.camera_id, float(settings.recording.segment_seconds)),
            callbacks.on_segment,
        )
        analysis = MotionAnalysis(self.camera_id, settings.detection, callbacks.on_event)
        sampler = FrameSampler(SamplerSettings(fps=float(settings.detection.fps)), analysis.frame)
        analyser = AnalysisConsumer(sampler, analysis)
        record, detect = camera.record_input, camera.detect_input
        groups: list[tuple[CameraInputConfig, list[PacketConsumer], bool]] = (
            [(record, [analyser, segmenter], True)]
            if record is detect
            else [(record, [segmenter], True), (detect, [analyser], False)]
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
            )
            for index, (item, consumers, reports) in enumerate(groups)
        ]
        self._last_state: CameraState | None = None

    def start(self) -> None:
        """Start every input thread."""
        for worker in self._workers:
            worker.start()

    def stop(self) -> None:
        """Stop every input thread."""
        for worker in self._workers:
            worker.stop()

    def _report(self, state: CameraState, reason: str) -> None:
        with self._state_lock:
            if state is self._last_state and not reason:
                return
            self._last_state = state
        if state in (CameraState.OFFLINE, CameraState.STALLED):
            log.warning("camera %s %s: %s", self.camera_id, state.value, reason)
        else:
            log.info("camera %s %s", self.camera_id, state.value)
        self._callbacks.on_status(CameraStatus(self.camera_id, state, utcnow(), reason))


def _ignore_status(state: CameraState, reason: str) -> None:
    """Status of a detect-only input: the record input's state is the camera's state."""
    log.debug("detect input %s %s", state.value, reason)
