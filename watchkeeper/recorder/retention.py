"""Retention: delete recorded footage by age, by disk quota and, when the disk is full, to keep recording.

Rules, per camera: continuous footage is kept ``retain_days``; footage overlapping an event is kept
``event_retain_days`` (never less than ``retain_days``). Across cameras, the oldest footage goes first while a
quota is exceeded (``max_bytes`` of indexed footage, ``max_percent`` of the volume used, or less than
``min_free_bytes`` free). Footage overlapping an active evidence lock is never deleted by any rule.

Eviction deletes the file (for a segment in the warm tier: its object in the bucket) and then its index row
inside one write transaction that also serialises with new evidence locks (see
``RetentionRepository.delete_unlocked``); a crash in between leaves a row without a file, which start-up
recovery removes. Evidence-locked footage is kept in both tiers.

A manager acts only on the footage of its ``scope`` (a site worker with its own media folder: its site's
cameras, and cameras no longer configured whose folder is here; see ``recorder.scope``); the quotas count only
that footage, and it never deletes the row of a camera outside its scope, even when the file is absent here.
With a per-site scope it also keeps the row of a hot segment whose file is simply absent from its folder (a
camera moved between sites: its old footage stays at the old site, whose worker deletes it): logged once
per camera, counted (``absent_kept``), and skipped. Only the everything-scope (one box, one shared folder)
deletes the rows of files found missing.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path, PurePosixPath

from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.recording import RecordingConfig
from watchkeeper.domain import CameraId, Segment, StorageTier, utcnow
from watchkeeper.media.protocol import ObjectStore, ObjectStoreError
from watchkeeper.recorder.periodic import PeriodicPass
from watchkeeper.recorder.quarantine import prune_quarantine
from watchkeeper.recorder.scope import FootageScope
from watchkeeper.recorder.snapshot_retention import prune_event_snapshots
from watchkeeper.storage.protocols import Store

log = logging.getLogger(__name__)

BATCH = 500
"""Segments evicted per write transaction."""
EMERGENCY_MIN_FREE_BYTES = 1024 * 1024
"""Free space a disk-full eviction aims for when ``min_free_bytes`` is smaller."""


class EvictionReason(StrEnum):
    """Why footage was deleted."""

    RETAIN_DAYS = "retain_days"
    EVENT_RETAIN_DAYS = "event_retain_days"
    QUOTA = "quota"
    DISK_FULL = "disk_full"


@dataclass(frozen=True, slots=True)
class CameraRetention:
    """How long one camera's footage is kept."""

    camera_id: CameraId
    retain_days: int
    event_retain_days: int


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Every retention rule, resolved from the configuration."""

    cameras: tuple[CameraRetention, ...]
    default_retain_days: int = 7
    default_event_retain_days: int = 14
    max_bytes: int | None = None
    max_percent: float | None = None
    min_free_bytes: int = 0

    @classmethod
    def from_config(cls, recording: RecordingConfig, cameras: Iterable[CameraConfig]) -> RetentionPolicy:
        """The policy of a configuration, with each camera's overrides applied."""
        return cls(
            cameras=tuple(
                CameraRetention(
                    CameraId(camera.id),
                    recording.retain_days if camera.retain_days is None else camera.retain_days,
                    (
                        recording.event_retain_days
                        if camera.event_retain_days is None
                        else camera.event_retain_days
                    ),
                )
                for camera in cameras
            ),
            default_retain_days=recording.retain_days,
            default_event_retain_days=recording.event_retain_days,
            max_bytes=recording.max_bytes,
            max_percent=recording.max_percent,
            min_free_bytes=recording.min_free_bytes,
        )

    @property
    def quarantine_keep(self) -> timedelta:
        """How long a quarantined file is kept: as long as footage with an event (the longer default)."""
        return timedelta(days=max(self.default_retain_days, self.default_event_retain_days))

    def for_camera(self, camera_id: CameraId) -> CameraRetention:
        """The rules of ``camera_id`` (the defaults for a camera no longer configured)."""
        for camera in self.cameras:
            if camera.camera_id == camera_id:
                return camera
        return CameraRetention(camera_id, self.default_retain_days, self.default_event_retain_days)


@dataclass(frozen=True, slots=True)
class Eviction:
    """How much footage was deleted for one reason."""

    reason: EvictionReason
    segments: int = 0
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """The outcome of one retention pass or one disk-full eviction."""

    started_at: datetime
    duration_s: float
    evictions: tuple[Eviction, ...]
    failed_files: int = 0
    unmet_bytes: int = 0
    quarantine_deleted: int = 0
    """Quarantined files (``<root>/.quarantine/``) deleted because they were older than the retention."""
    absent_kept: int = 0
    """Hot segments whose file is not in this node's folder (per-site scope): their rows were kept."""

    def evicted(self, reason: EvictionReason) -> Eviction:
        """What was deleted for ``reason``."""
        for eviction in self.evictions:
            if eviction.reason is reason:
                return eviction
        return Eviction(reason)

    @property
    def total_segments(self) -> int:
        """Segments deleted for any reason."""
        return sum(eviction.segments for eviction in self.evictions)

    @property
    def total_bytes(self) -> int:
        """Bytes deleted for any reason."""
        return sum(eviction.bytes for eviction in self.evictions)

    def summary(self) -> str:
        """One line for the log and the camera status."""
        parts = [
            f"{item.segments} segment(s)/{item.bytes} bytes by {item.reason.value}"
            for item in self.evictions
            if item.segments
        ]
        text = ", ".join(parts) if parts else "nothing evicted"
        if self.failed_files:
            text += f", {self.failed_files} file(s) could not be deleted"
        if self.unmet_bytes:
            text += f", {self.unmet_bytes} bytes still over quota (the rest is evidence-locked)"
        if self.quarantine_deleted:
            text += f", {self.quarantine_deleted} quarantined file(s) deleted"
        if self.absent_kept:
            text += f", {self.absent_kept} row(s) kept whose file is not in this node's folder"
        return text


@dataclass(frozen=True, slots=True)
class RetentionSnapshot:
    """Cumulative retention counters since start-up (for metrics)."""

    runs: int
    disk_full_events: int
    failed_files: int
    evictions: tuple[Eviction, ...]
    last_run_at: datetime | None
    last_duration_s: float
    absent_kept: int = 0
    """Rows kept because their file is not in this node's folder, summed over the passes."""

    def evicted(self, reason: EvictionReason) -> Eviction:
        """Totals for ``reason``."""
        for eviction in self.evictions:
            if eviction.reason is reason:
                return eviction
        return Eviction(reason)


class RetentionStats:
    """Thread-safe cumulative counters of every retention pass and disk-full eviction."""

    def __init__(self) -> None:
        """All counters at zero."""
        self._lock = threading.Lock()
        self._segments = dict.fromkeys(EvictionReason, 0)
        self._bytes = dict.fromkeys(EvictionReason, 0)
        self._runs = 0
        self._disk_full = 0
        self._failed = 0
        self._absent_kept = 0
        self._last_run_at: datetime | None = None
        self._last_duration_s = 0.0

    def record(self, report: RetentionReport, *, disk_full: bool = False) -> None:
        """Add a report's counts."""
        with self._lock:
            for eviction in report.evictions:
                self._segments[eviction.reason] += eviction.segments
                self._bytes[eviction.reason] += eviction.bytes
            self._failed += report.failed_files
            self._absent_kept += report.absent_kept
            if disk_full:
                self._disk_full += 1
            else:
                self._runs += 1
                self._last_run_at = report.started_at
                self._last_duration_s = report.duration_s

    def snapshot(self) -> RetentionSnapshot:
        """A consistent copy of every counter."""
        with self._lock:
            return RetentionSnapshot(
                runs=self._runs,
                disk_full_events=self._disk_full,
                failed_files=self._failed,
                evictions=tuple(Eviction(r, self._segments[r], self._bytes[r]) for r in EvictionReason),
                last_run_at=self._last_run_at,
                last_duration_s=self._last_duration_s,
                absent_kept=self._absent_kept,
            )


@dataclass(slots=True)
class _Tally:
    started_at: datetime
    started: float = field(default_factory=time.monotonic)
    segments: dict[EvictionReason, int] = field(default_factory=dict)
    bytes: dict[EvictionReason, int] = field(default_factory=dict)
    failed_files: int = 0
    unmet_bytes: int = 0
    quarantine_deleted: int = 0
    absent: set[int] = field(default_factory=set)

    def add(self, reason: EvictionReason, evicted: Sequence[Segment]) -> None:
        self.segments[reason] = self.segments.get(reason, 0) + len(evicted)
        self.bytes[reason] = self.bytes.get(reason, 0) + sum(s.size_bytes for s in evicted)

    def report(self) -> RetentionReport:
        return RetentionReport(
            started_at=self.started_at,
            duration_s=time.monotonic() - self.started,
            evictions=tuple(Eviction(r, n, self.bytes[r]) for r, n in self.segments.items()),
            failed_files=self.failed_files,
            unmet_bytes=self.unmet_bytes,
            quarantine_deleted=self.quarantine_deleted,
            absent_kept=len(self.absent),
        )


class RetentionManager:
    """Applies a ``RetentionPolicy`` to the recording index and the media folder."""

    def __init__(
        self,
        store: Store,
        media_root: Path,
        policy: RetentionPolicy,
        stats: RetentionStats | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Prepare; nothing runs until ``run_once`` or ``free_space`` is called."""
        self.warm: ObjectStore | None = None
        """The warm tier's bucket: evicting a warm segment deletes its object there too."""
        self.scope = FootageScope()
        """The cameras whose footage this manager keeps and deletes (default: every camera)."""
        self._pass_scope: FootageScope | None = None
        """``scope`` resolved for the pass under way (with the unconfigured cameras whose folder is here)."""
        self._absent_logged: set[CameraId] = set()
        self._store = store
        self._root = media_root
        self.policy = policy
        self.stats = stats if stats is not None else RetentionStats()
        self._clock = clock
        self._lock = threading.Lock()

    def run_once(self) -> RetentionReport:
        """One pass: every camera's day rules, then the quotas. Logs and counts the outcome."""
        with self._lock, self._resolved_scope():
            now = self._clock()
            tally = _Tally(started_at=now)
            snapshot_cutoffs: list[tuple[CameraId, datetime]] = []
            for camera_id in self._camera_ids():
                rules = self.policy.for_camera(camera_id)
                continuous = now - timedelta(days=rules.retain_days)
                events = now - timedelta(days=max(rules.retain_days, rules.event_retain_days))
                self._evict_expired(camera_id, continuous, EvictionReason.RETAIN_DAYS, tally)
                self._evict_expired(camera_id, events, EvictionReason.EVENT_RETAIN_DAYS, tally)
                snapshot_cutoffs.append((camera_id, events))
            # event snapshots go with their footage
            prune_event_snapshots(self._store, self._root, snapshot_cutoffs)
            try:
                tally.quarantine_deleted = prune_quarantine(self._root, now - self.policy.quarantine_keep)
            except OSError as err:  # the quarantine is no reason to skip the quotas
                log.warning("retention: the quarantine could not be pruned: %s", err)
            disk_need = self._disk_over_quota()  # local volume: only hot segments free it
            if disk_need > 0:
                freed = self._evict_oldest(disk_need, EvictionReason.QUOTA, tally, self._local_tier())
                tally.unmet_bytes = max(0, disk_need - freed)
            index_need = self._index_over_quota()  # max_bytes counts every tier
            if index_need > 0:
                freed = self._evict_oldest(index_need, EvictionReason.QUOTA, tally, None)
                tally.unmet_bytes = max(tally.unmet_bytes, index_need - freed)
            report = tally.report()
        self.stats.record(report)
        level = logging.WARNING if report.unmet_bytes or report.failed_files else logging.INFO
        if report.total_segments or report.quarantine_deleted or level == logging.WARNING:
            log.log(level, "retention: %s in %.2f s", report.summary(), report.duration_s)
        return report

    def free_space(self) -> RetentionReport:
        """Disk-full eviction: delete the oldest unlocked footage until ``min_free_bytes`` are free."""
        with self._lock, self._resolved_scope():
            tally = _Tally(started_at=self._clock())
            target = max(self.policy.min_free_bytes, EMERGENCY_MIN_FREE_BYTES)
            free = self._free_bytes()
            need = target - free if free is not None else target
            if need > 0:
                freed = self._evict_oldest(need, EvictionReason.DISK_FULL, tally, self._local_tier())
                tally.unmet_bytes = max(0, need - freed)
            report = tally.report()
        self.stats.record(report, disk_full=True)
        log.warning("disk full: %s", report.summary())
        return report

    # -- internals -------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _resolved_scope(self) -> Iterator[None]:
        """Resolve ``scope`` for one pass (the unconfigured cameras whose folder is here join it)."""
        self._pass_scope = self.scope.resolved(self._store.retention, self._root)
        try:
            yield
        finally:
            self._pass_scope = None

    @property
    def _scope(self) -> FootageScope:
        return self.scope if self._pass_scope is None else self._pass_scope

    def _camera_ids(self) -> list[CameraId]:
        configured = [camera.camera_id for camera in self.policy.cameras]
        indexed = self._store.retention.camera_ids()
        scope = self._scope
        return [camera_id for camera_id in dict.fromkeys([*configured, *indexed]) if scope.covers(camera_id)]

    def _evict_expired(
        self, camera_id: CameraId, before: datetime, reason: EvictionReason, tally: _Tally
    ) -> None:
        with_events = reason is EvictionReason.EVENT_RETAIN_DAYS
        skipped = 0  # rows kept because their file is not here: the next page starts after them
        while True:
            batch = self._store.retention.expired(
                camera_id, before, with_events=with_events, limit=BATCH, offset=skipped
            )
            if not batch:
                return
            here = self._here(batch, tally)
            skipped += len(batch) - len(here)
            evicted = self._evict(here, reason, tally) if here else here
            if len(evicted) < len(here) or len(batch) < BATCH:
                return

    def _local_tier(self) -> StorageTier | None:
        """The tier that occupies the local disk, when a warm tier exists (else any segment counts)."""
        return StorageTier.HOT if self.warm is not None else None

    def _evict_oldest(
        self, need: int, reason: EvictionReason, tally: _Tally, tier: StorageTier | None
    ) -> int:
        freed = skipped = 0
        while freed < need:
            batch = self._store.retention.oldest_unlocked(
                limit=BATCH, tier=tier, cameras=self._scope.cameras, offset=skipped
            )
            if not batch:
                break
            here = self._here(batch, tally)
            skipped += len(batch) - len(here)
            chosen = _prefix_covering(here, need - freed)
            if not chosen:
                continue  # a page of rows whose files are not here
            evicted = self._evict(chosen, reason, tally)
            freed += sum(s.size_bytes for s in evicted)
            if len(evicted) < len(chosen):
                break
        return freed

    def _evict(self, batch: Sequence[Segment], reason: EvictionReason, tally: _Tally) -> Sequence[Segment]:
        ids = [segment.id for segment in batch if segment.id is not None]
        evicted = self._store.retention.delete_unlocked(ids, self._remove_file)
        tally.add(reason, evicted)
        tally.failed_files += len(batch) - len(evicted)
        return evicted

    def _here(self, batch: Sequence[Segment], tally: _Tally) -> list[Segment]:
        """The segments of ``batch`` this node may evict; the others (rows kept) are logged and counted.

        With a per-site scope, a hot segment whose file is not in this node's folder is another site's
        footage (a camera moved between sites): its row stays for that site's worker.
        """
        if self._scope.everything:
            return list(batch)
        here: list[Segment] = []
        for segment in batch:
            if self._absent(segment):
                tally.absent.add(segment.id or 0)
                self._note_absent(segment.camera_id)
            else:
                here.append(segment)
        return here

    def _absent(self, segment: Segment) -> bool:
        """True for a hot segment whose file is not in this node's folder (per-site scope only)."""
        if self._scope.everything or segment.tier is not StorageTier.HOT:
            return False
        relative = PurePosixPath(segment.path)
        return (
            not relative.is_absolute()
            and ".." not in relative.parts
            and not (self._root / relative).is_file()
        )

    def _note_absent(self, camera_id: CameraId) -> None:
        if camera_id in self._absent_logged:
            return
        self._absent_logged.add(camera_id)
        log.warning(
            "retention: camera %s has indexed footage whose files are not in %s: its rows are kept (the "
            "footage of another site's folder, e.g. a camera moved between sites; that site deletes it)",
            camera_id,
            self._root,
        )

    def _remove_file(self, segment: Segment) -> bool:
        """Delete a segment's file in either tier (true when it is gone) and prune emptied folders."""
        if not self._scope.covers(segment.camera_id):  # another site's footage: its file is not ours to judge
            log.error(
                "refusing to delete segment %s: camera %s is not in this node's scope",
                segment.id,
                segment.camera_id,
            )
            return False
        if segment.tier is StorageTier.WARM and segment.object_key is not None:
            if self.warm is None:
                log.error(
                    "cannot delete segment %s: it is in the warm tier, which is not configured", segment.id
                )
                return False
            try:
                self.warm.delete(segment.object_key)
            except ObjectStoreError as err:
                log.error("cannot delete %s from the warm tier: %s", segment.object_key, err)  # noqa: TRY400
                return False
        relative = PurePosixPath(segment.path)
        if relative.is_absolute() or ".." in relative.parts:
            log.error("refusing to delete %s: not a path inside the media folder", segment.path)
            return False
        path = self._root / relative
        if self._absent(segment):  # gone since it was chosen, or another site's: the row stays
            self._note_absent(segment.camera_id)
            return False
        try:
            path.unlink(missing_ok=True)
        except OSError as err:
            log.error("cannot delete %s: %s", path, err)  # noqa: TRY400 - the message is the whole story
            return False
        prune_empty_folders(path.parent, self._root)
        return True

    def _free_bytes(self) -> int | None:
        try:
            return shutil.disk_usage(self._root).free
        except OSError as err:
            log.warning("cannot read the free space of %s: %s", self._root, err)
            return None

    def _index_over_quota(self) -> int:
        if self.policy.max_bytes is None:
            return 0
        return self._store.retention.total_bytes(cameras=self._scope.cameras) - self.policy.max_bytes

    def _disk_over_quota(self) -> int:
        policy = self.policy
        need = 0
        if policy.max_percent is None and policy.min_free_bytes <= 0:
            return need
        try:
            usage = shutil.disk_usage(self._root)
        except OSError as err:
            log.warning("cannot read the disk usage of %s: %s", self._root, err)
            return need
        if policy.max_percent is not None:
            need = max(need, usage.used - int(usage.total * policy.max_percent / 100))
        return max(need, policy.min_free_bytes - usage.free)


def _prefix_covering(batch: Sequence[Segment], need: int) -> list[Segment]:
    """The oldest segments of ``batch`` whose sizes add up to at least ``need`` (at least one)."""
    chosen: list[Segment] = []
    total = 0
    for segment in batch:
        chosen.append(segment)
        total += segment.size_bytes
        if total >= need:
            break
    return chosen


def prune_empty_folders(folder: Path, root: Path) -> None:
    """Remove ``folder`` and its parents up to (not including) the camera folder while they are empty."""
    while folder != root and folder.parent != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


class RetentionLoop(PeriodicPass):
    """A daemon thread that runs a retention pass at start-up and then every ``interval_s`` seconds."""

    def __init__(self, manager: RetentionManager, interval_s: float) -> None:
        """Prepare; ``start()`` launches the thread."""
        super().__init__("retention", manager.run_once, interval_s)
