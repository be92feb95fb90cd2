"""The protected rendition's own thread: redaction, faces, x264 and ``latest.jpg`` off the input thread.

A camera's input thread demuxes, decodes, runs motion detection and queues the detector job of the frames
the object pipeline asks for: that is the alarm path. The rendition of the same frames (blur, CenterFace,
x264, ``latest.jpg``) costs several times as much CPU, and it may lag a little: it is buffered into
segments anyway. So it runs on a thread of its own per camera, started with a higher nice value (Linux
schedules threads one by one, so ``setpriority`` on the thread id lowers only that thread and the threads
it creates), and takes the cores when the input threads, the shared detector and the API's event loop
leave them free.

Frames are rendered in the order they were taken. The queue holds ``depth`` frames (2 s at 5 fps by
default), enough for bursts. When it is full the cores are short for longer than that, and the **oldest**
queued frame is dropped (counted, and logged once per connection): recording and the alarm path, which share
the input thread, must not wait for the rendition, and the rendition stays within ``depth`` frames of live.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Job = TypeVar("Job")


class _Stop:
    """Queued after the last job by ``drain``: the thread ends once it gets there."""


@dataclass(frozen=True, slots=True)
class RenditionThreadSettings:
    """How a camera's rendition thread runs.

    Attributes:
        nice: Added to the thread's nice value (0: the same priority as the input thread; 19 at most).
        depth: Frames queued; beyond it the oldest queued frame is dropped.
    """

    nice: int = 10
    depth: int = 10

    def __post_init__(self) -> None:
        """Check the values."""
        if not 0 <= self.nice <= 19 or self.depth < 1:
            raise ValueError(f"need 0 <= nice <= 19 and depth >= 1, got {self.nice}, {self.depth}")


@dataclass(slots=True)
class RenditionThreadStats:
    """What a rendition thread did since it was built (each counter written by the one thread named).

    Attributes:
        jobs: Jobs run (rendition thread).
        failed: Jobs that raised (logged; the thread goes on).
        dropped: Queued jobs dropped because the queue was full (input thread).
    """

    jobs: int = 0
    failed: int = 0
    dropped: int = 0


def lower_thread_priority(nice: int) -> None:
    """Raise the calling thread's nice value by ``nice`` (Linux only; elsewhere, or when refused, a no-op)."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return
    thread_id = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread_id)
        os.setpriority(os.PRIO_PROCESS, thread_id, min(19, current + nice))
    except OSError as err:
        log.warning("cannot lower the priority of thread %s: %s", threading.current_thread().name, err)


class RenditionThread(Generic[Job]):
    """Runs ``handle`` on one lower-priority thread for every job ``put``, in order (see the module doc)."""

    def __init__(
        self, name: str, handle: Callable[[Job], None], settings: RenditionThreadSettings | None = None
    ) -> None:
        """Prepare the thread (it starts with the first ``put``)."""
        self._name = name
        self._handle = handle
        self._settings = settings or RenditionThreadSettings()
        self._queue: queue.Queue[Job | _Stop] = queue.Queue(maxsize=self._settings.depth)
        self._thread: threading.Thread | None = None
        self._warned = False
        self.stats = RenditionThreadStats()

    def put(self, job: Job) -> None:
        """Queue ``job``, dropping the oldest queued job when the queue is full; never waits.

        Starts the thread when it is not running.
        """
        self._ensure_running()
        while True:
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                self._drop_oldest()
            else:
                return

    def drain(self) -> None:
        """Run every queued job, then stop the thread (a later ``put`` starts a new one)."""
        thread, self._thread = self._thread, None
        self._warned = False
        if thread is None or not thread.is_alive():
            return
        self._queue.put(_Stop())
        thread.join()

    def _drop_oldest(self) -> None:
        try:
            self._queue.get_nowait()
        except queue.Empty:
            return  # the thread took one meanwhile: there is room now
        self.stats.dropped += 1
        if not self._warned:
            self._warned = True
            log.warning(
                "%s: the rendition is more than %d frames behind (cores short): dropping its oldest frames",
                self._name,
                self._settings.depth,
            )

    def _ensure_running(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            return
        thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread = thread
        thread.start()

    def _run(self) -> None:
        lower_thread_priority(self._settings.nice)
        while True:
            item = self._queue.get()
            if isinstance(item, _Stop):
                return
            try:
                self._handle(item)
            except Exception:
                self.stats.failed += 1
                log.exception("%s: a rendition frame failed", self._name)
            self.stats.jobs += 1
