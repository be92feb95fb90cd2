"""Crash recovery of the media folder on a worker that shares it with other workers.

At start the worker removes index rows whose file is gone (as the single box does), in the background (with
a media folder per site it only counts them: a camera moved between sites left its old footage there):
camera after camera, a page at a time, once the store answers, so joining the leasing never waits for a
read of the whole index. Each time it takes a camera's lease it notes that camera's leftover files *before*
starting the camera, and ``quiet_s`` later quarantines the ``.part`` files and indexes the complete files
that have not changed meanwhile (``recorder.camera_recovery``). It never touches another camera's files, nor
files written after it took the lease (its own), nor files that are still changing (a previous owner still
finishing them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

from watchkeeper.domain import CameraId, WatchkeeperError, utcnow
from watchkeeper.recorder.camera_recovery import CameraFiles, drop_indexed, mark_camera_files, settle
from watchkeeper.recorder.recovery import SealedOpener, remove_camera_rows_without_files
from watchkeeper.recorder.scope import FootageScope
from watchkeeper.storage.protocols import Store

log = logging.getLogger(__name__)

LOOKBACK = timedelta(hours=24)
"""How far back a camera's hour folders are looked at when its lease is taken: every earlier owner looked at
its own, so only the recent ones can hold leftovers (and the listing stays short with long retention)."""


class WorkerRecovery:
    """Recovers the files of the cameras this worker takes, once they are quiet."""

    def __init__(
        self,
        store: Store,
        media_root: Path,
        open_sealed: SealedOpener | None,
        quiet_s: float,
        lookback: timedelta | None = LOOKBACK,
    ) -> None:
        """Recover in ``media_root`` (index in ``store``) files that stood still for ``quiet_s``.

        ``lookback``: how far back a camera's hour folders are looked at (None: all of them).
        """
        self._lookback = lookback
        self._store = store
        self._media_root = media_root
        self._open_sealed = open_sealed
        self._quiet_s = quiet_s
        self._tasks: dict[CameraId, asyncio.Task[None]] = {}
        self._index_check: asyncio.Task[None] | None = None
        self.store_ready: threading.Event | None = None
        """Set once the store answers (a worker started without it); recoveries wait for it."""
        self.scope = FootageScope()
        """The cameras whose footage this media folder holds: the index check looks at no other camera's
        rows (with a media folder per site, another site's files are never here)."""

    def check_index(self) -> None:
        """Start removing index rows whose file is missing, in the background (call it on the loop).

        Once per start, camera after camera (every camera with indexed segments that ``scope`` covers), a page
        at a time, after the store answers: joining the leasing does not wait for it. Failures are logged in
        one line each (the next start tries again).
        """
        self._index_check = asyncio.create_task(self._check_index(), name="recovery:index")

    async def _check_index(self) -> None:
        await self._store_answers("the index check")
        store, media_root = self._store, self._media_root
        try:
            indexed = await asyncio.to_thread(store.retention.camera_ids)
        except WatchkeeperError as err:
            log.error("recovery: cannot check the index for missing files: %s", err)  # noqa: TRY400
            return
        cameras = [camera_id for camera_id in indexed if self.scope.covers(camera_id)]
        remove = self.scope.everything  # a folder per site: an absent file may be at the camera's old site
        found = 0
        for camera_id in cameras:
            try:
                found += await asyncio.to_thread(
                    partial(remove_camera_rows_without_files, remove=remove), store, media_root, camera_id
                )
            except WatchkeeperError as err:
                log.error("recovery: cannot check the index of camera %s: %s", camera_id, err)  # noqa: TRY400
        if remove:
            log.info(
                "recovery: index of %d camera(s) checked, %d row(s) without a file removed",
                len(cameras),
                found,
            )
            return
        log.log(
            logging.WARNING if found else logging.INFO,
            "recovery: index of %d camera(s) checked, %d hot row(s) without a file here kept (a media folder "
            "per site: their footage may be at another site)",
            len(cameras),
            found,
        )

    async def _store_answers(self, what: str) -> None:
        ready = self.store_ready
        if ready is not None and not ready.is_set():
            log.info("recovery: %s waits for the store", what)
            while not ready.is_set():
                await asyncio.sleep(1.0)

    async def before_start(self, camera_id: CameraId, holds: Callable[[], bool]) -> None:
        """Note ``camera_id``'s leftover files now; recover them later while ``holds()`` is true.

        Call it after the lease is taken and before the camera starts. Never raises: a folder that cannot be
        listed is logged, and the camera starts anyway.
        """
        try:
            since = None if self._lookback is None else utcnow() - self._lookback
            files = await asyncio.to_thread(mark_camera_files, self._media_root, camera_id, since)
        except OSError as err:
            log.error("recovery: cannot list the files of camera %s: %s", camera_id, err)  # noqa: TRY400
            return
        previous = self._tasks.pop(camera_id, None)
        if previous is not None:
            previous.cancel()
        if files.empty:
            return
        task = asyncio.create_task(self._recover(files, holds), name=f"recovery:{camera_id}")
        self._tasks[camera_id] = task
        task.add_done_callback(lambda done: self._forget(camera_id, done))

    async def wait(self, camera_id: CameraId) -> None:
        """Wait until the recovery of ``camera_id`` (if any) has ended."""
        task = self._tasks.get(camera_id)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_index_check(self) -> None:
        """Wait until the index check (if started) has ended."""
        if self._index_check is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._index_check

    async def stop(self) -> None:
        """Cancel the index check and the recoveries still waiting (the next start does them again)."""
        tasks = list(self._tasks.values())
        if self._index_check is not None:
            tasks.append(self._index_check)
            self._index_check = None
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _forget(self, camera_id: CameraId, task: asyncio.Task[None]) -> None:
        if self._tasks.get(camera_id) is task:
            del self._tasks[camera_id]

    async def _recover(self, files: CameraFiles, holds: Callable[[], bool]) -> None:
        await self._store_answers(f"the recovery of camera {files.camera_id}")
        try:
            await self._settle(files, holds)
        except (WatchkeeperError, OSError) as err:
            log.error("recovery of camera %s failed: %s", files.camera_id, err)  # noqa: TRY400 - one line

    async def _settle(self, files: CameraFiles, holds: Callable[[], bool]) -> None:
        camera_id = files.camera_id
        files = await asyncio.to_thread(drop_indexed, self._store, self._media_root, files)
        while not files.empty:
            log.info(
                "recovery: camera %s has %d leftover file(s); checking them in %.0f s",
                camera_id,
                files.count,
                self._quiet_s,
            )
            await asyncio.sleep(self._quiet_s)
            if not holds():
                log.info("recovery: camera %s is no longer held here; its new owner checks it", camera_id)
                return
            report = await asyncio.to_thread(settle, self._store, self._media_root, files, self._open_sealed)
            log.log(
                logging.WARNING if report.repaired else logging.INFO,
                "recovery of camera %s: %s",
                camera_id,
                report.summary(),
            )
            files = report.pending
