"""Storage tiering: move finished segments from the local media folder (hot) to an S3 bucket (warm).

A segment moves once it ended ``warm_after_s`` ago, or earlier (oldest first) while the media volume has
less than ``min_free_bytes`` free. For each segment, in this order:

1. hash the local file (SHA-256);
2. upload it as-is (an encrypted original stays ciphertext: the bytes in the bucket are the file's bytes);
3. verify: read the object back with one GET and re-hash it, and compare the size and the SHA-256 the
   object carries in its metadata. A GET is used rather than the ETag because the ETag is only an MD5 of
   the body for single-part uploads without server-side encryption (multipart uploads and several
   S3-compatible servers give other values) and it is computed from what the server received, not read
   back from what it stored; re-reading proves the bytes at rest are the bytes hashed before upload;
4. switch the index row to ``warm`` (object key and SHA-256) in one conditional UPDATE;
5. only then delete the local file.

A crash (or a failed delete) between steps 4 and 5 leaves a local copy of a warm segment: the first pass
after start-up, and the first after a failed delete, walk the warm rows and delete each local copy once the
bucket is verified to hold the same bytes (:class:`WarmLeftovers`).

A failure at any step keeps the local file and the hot row. Failed steps are retried with exponential
backoff within the pass (``retry_attempts``), then the segment waits for the next pass; failures are
logged and counted (``TieringStats``, exported as metrics). A bad upload is deleted from the bucket.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath

from watchkeeper.config.tiers import TiersConfig
from watchkeeper.domain import Segment, WatchkeeperError, utcnow
from watchkeeper.media.protocol import (
    ChecksumMismatchError,
    ObjectStore,
    ObjectStoreAuthError,
    ObjectStoreError,
)
from watchkeeper.recorder.periodic import PeriodicPass
from watchkeeper.recorder.retention import prune_empty_folders
from watchkeeper.recorder.scope import FootageScope
from watchkeeper.recorder.warm_leftovers import WarmLeftovers
from watchkeeper.storage.protocols import Store

log = logging.getLogger(__name__)

HASH_BLOCK = 1 << 20
EXAMINE_FACTOR = 10
"""A pass looks at no more than this many times ``batch`` candidates (skipped ones included)."""


def sha256_of(path: Path) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class TieringPolicy:
    """When segments move and how failures are retried (from ``tiers``)."""

    warm_after_s: float = 86_400.0
    min_free_bytes: int = 0
    batch: int = 50
    retry_attempts: int = 4
    retry_base_s: float = 1.0
    retry_max_s: float = 30.0
    prefix: str = "segments/"

    @classmethod
    def from_config(cls, tiers: TiersConfig) -> TieringPolicy:
        """The policy of the ``tiers`` section."""
        return cls(
            warm_after_s=float(tiers.warm_after_s),
            min_free_bytes=tiers.min_free_bytes,
            batch=tiers.batch,
            retry_attempts=tiers.retry_attempts,
            retry_base_s=tiers.retry_base_s,
            retry_max_s=tiers.retry_max_s,
            prefix=tiers.warm.prefix if tiers.warm is not None else "segments/",
        )

    def backoff_s(self, attempt: int) -> float:
        """Wait after failed try number ``attempt`` (1-based): base x 2^(attempt-1), capped."""
        return float(min(self.retry_max_s, self.retry_base_s * 2 ** (attempt - 1)))


@dataclass(frozen=True, slots=True)
class TieringReport:
    """The outcome of one pass."""

    moved: int = 0
    moved_bytes: int = 0
    failed: int = 0
    retries: int = 0
    checksum_mismatches: int = 0
    errors: tuple[str, ...] = ()
    leftovers_removed: int = 0
    """Local copies of warm segments (left by a crash) verified against the bucket and deleted."""


@dataclass(frozen=True, slots=True)
class TieringSnapshot:
    """Cumulative counters since start-up (for metrics)."""

    passes: int
    moved: int
    moved_bytes: int
    failed: int
    retries: int
    checksum_mismatches: int
    upload_seconds: float
    leftovers_removed: int = 0


class TieringStats:
    """Thread-safe cumulative counters of every pass."""

    def __init__(self) -> None:
        """All counters at zero."""
        self._lock = threading.Lock()
        self._passes = self._moved = self._bytes = self._failed = self._retries = self._mismatches = 0
        self._leftovers = 0
        self._upload_s = 0.0

    def record(self, report: TieringReport, upload_s: float) -> None:
        """Add one pass."""
        with self._lock:
            self._passes += 1
            self._moved += report.moved
            self._bytes += report.moved_bytes
            self._failed += report.failed
            self._retries += report.retries
            self._mismatches += report.checksum_mismatches
            self._leftovers += report.leftovers_removed
            self._upload_s += upload_s

    def snapshot(self) -> TieringSnapshot:
        """A consistent copy of the counters."""
        with self._lock:
            return TieringSnapshot(
                self._passes,
                self._moved,
                self._bytes,
                self._failed,
                self._retries,
                self._mismatches,
                self._upload_s,
                self._leftovers,
            )


@dataclass(slots=True)
class _Pass:
    moved: int = 0
    moved_bytes: int = 0
    failed: int = 0
    retries: int = 0
    mismatches: int = 0
    upload_s: float = 0.0
    leftovers: int = 0
    errors: list[str] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)

    def report(self) -> TieringReport:
        return TieringReport(
            self.moved,
            self.moved_bytes,
            self.failed,
            self.retries,
            self.mismatches,
            tuple(self.errors),
            self.leftovers,
        )


class SegmentMoveError(WatchkeeperError):
    """A segment could not be moved to the warm tier (it stays on the local disk)."""

    code = "tiering_failed"


class TieringManager:
    """Moves hot segments to the warm bucket, verified, and only then deletes the local copy."""

    def __init__(
        self,
        store: Store,
        media_root: Path,
        warm: ObjectStore,
        policy: TieringPolicy,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Prepare; nothing runs until :meth:`run_once`."""
        self._store = store
        self._root = media_root
        self._warm = warm
        self.policy = policy
        self._clock = clock
        self.stats = TieringStats()
        self.scope = FootageScope()
        """The cameras whose hot footage this manager moves (a site worker: only its site's)."""
        self.sleep: Callable[[float], bool] = _sleep
        """Waits between retries; returns true to give up (the loop's stop event)."""
        self._lock = threading.Lock()
        self._leftovers = WarmLeftovers(store, media_root, warm)
        self._leftovers_due = True
        """The first pass, and the first after a failed delete, look for local copies of warm segments."""

    def object_key(self, segment: Segment) -> str:
        """The bucket key of a segment: the prefix and its path inside the media folder."""
        return f"{self.policy.prefix}{PurePosixPath(segment.path).as_posix()}"

    def run_once(self) -> TieringReport:
        """One pass: the segments old enough, then (while the disk is short of space) the oldest others."""
        with self._lock:
            state = _Pass()
            cameras = self.scope.resolved(self._store.retention, self._root).cameras
            if self._leftovers_due:  # the index unreadable: the next pass
                state.leftovers = self._leftovers.sweep(cameras).removed
                self._leftovers_due = False
            cutoff = self._clock() - timedelta(seconds=self.policy.warm_after_s)
            tiers, batch = self._store.tiers, self.policy.batch
            self._drain(lambda offset: tiers.hot_ending_before(cutoff, batch, offset, cameras=cameras), state)
            if self._short_of_space():
                self._drain(lambda offset: tiers.oldest_hot(batch, offset, cameras=cameras), state, True)
            report = state.report()
        self.stats.record(report, state.upload_s)
        if report.moved or report.failed:
            level = logging.WARNING if report.failed else logging.INFO
            log.log(
                level,
                "tiering: %d segment(s)/%d bytes moved to the warm tier, %d failed (%d retries)",
                report.moved,
                report.moved_bytes,
                report.failed,
                report.retries,
            )
        return report

    def _drain(self, page: Callable[[int], Sequence[Segment]], state: _Pass, for_space: bool = False) -> None:
        """Move candidates page by page until ``batch`` were tried (or, for space, the disk has enough).

        Segments without a local file here (recorded by another worker host, or just deleted) are skipped
        without counting as failures; at most ``EXAMINE_FACTOR x batch`` candidates are looked at per pass.
        """
        kept = examined = 0
        while examined < EXAMINE_FACTOR * self.policy.batch:
            candidates = page(kept)  # moved segments leave the hot set, so the offset counts only kept ones
            if not candidates:
                return
            for segment in candidates:
                if state.moved + state.failed >= self.policy.batch:
                    return
                if for_space and not self._short_of_space():
                    return
                examined += 1
                if segment.id in state.seen:
                    kept += 1
                    continue
                state.seen.add(segment.id or 0)
                if not self._move(segment, state):
                    kept += 1

    def _short_of_space(self) -> bool:
        if self.policy.min_free_bytes <= 0:
            return False
        try:
            return shutil.disk_usage(self._root).free < self.policy.min_free_bytes
        except OSError as err:
            log.warning("cannot read the free space of %s: %s", self._root, err)
            return False

    def _move(self, segment: Segment, state: _Pass) -> bool:
        """Move one segment with retries; true when it moved (false: failed, or no local file here)."""
        if segment.id is None or not self._here(segment):
            return False
        for attempt in range(1, self.policy.retry_attempts + 1):
            try:
                self._move_once(segment, state)
            except ChecksumMismatchError as err:
                state.mismatches += 1
                last: WatchkeeperError = err
            except ObjectStoreAuthError as err:  # retrying will not fix refused credentials
                last = err
                break
            except (ObjectStoreError, SegmentMoveError) as err:
                last = err
            else:
                return True
            if attempt < self.policy.retry_attempts:
                state.retries += 1
                wait = self.policy.backoff_s(attempt)
                log.warning(
                    "tiering: segment %s try %d failed (%s); retrying in %.1f s",
                    segment.id,
                    attempt,
                    last,
                    wait,
                )
                if self.sleep(wait):
                    break
        state.failed += 1
        state.errors.append(f"segment {segment.id}: {last}")
        log.error("tiering: segment %s stays on the local disk: %s", segment.id, last)
        return False

    def _here(self, segment: Segment) -> bool:
        """True when the segment's file is on this host's disk (else: another worker's, or deleted)."""
        try:
            if self._local(segment).is_file():
                return True
        except SegmentMoveError as err:
            log.error("tiering: %s", err)  # noqa: TRY400 - a bad path in the index, not an exception
            return False
        log.debug("tiering: segment %s has no file on this host; skipped", segment.id)
        return False

    def _move_once(self, segment: Segment, state: _Pass) -> None:
        local = self._local(segment)
        try:
            digest = sha256_of(local)
            size = local.stat().st_size
        except OSError as err:
            raise SegmentMoveError(f"cannot read {segment.path}: {err.strerror or err}") from err
        key = self.object_key(segment)
        started = time.monotonic()
        self._warm.put_file(key, local, digest)
        state.upload_s += time.monotonic() - started
        self._verify(key, size, digest)
        moved = self._store.tiers.mark_warm(segment.id or 0, key, digest)
        if moved is None:  # deleted (retention) or moved by someone else meanwhile: leave the file alone
            log.info("tiering: segment %s changed while it was uploaded; left as it is", segment.id)
            return
        try:
            local.unlink()
        except OSError as err:  # the index points at the bucket; the next pass retries the delete
            log.warning("tiering: cannot delete the local copy of segment %s: %s", segment.id, err)
            self._leftovers_due = True
        prune_empty_folders(local.parent, self._root)
        state.moved += 1
        state.moved_bytes += size

    def _verify(self, key: str, size: int, digest: str) -> None:
        """Read the object back and re-hash it; delete it and raise when it differs."""
        info = self._warm.stat(key)
        reread = hashlib.sha256()
        for piece in self._warm.iter_range(key, 0, info.size):
            reread.update(piece)
        problems = []
        if info.size != size:
            problems.append(f"size {info.size} != {size}")
        if info.sha256 != digest:
            problems.append("the recorded SHA-256 differs")
        if reread.hexdigest() != digest:
            problems.append(f"the stored bytes hash to {reread.hexdigest()[:12]}..., not {digest[:12]}...")
        if not problems:
            return
        try:
            self._warm.delete(key)
        except ObjectStoreError as err:
            log.warning("tiering: cannot delete the bad object %s: %s", key, err)
        raise ChecksumMismatchError(f"object {key} failed verification: {'; '.join(problems)}")

    def _local(self, segment: Segment) -> Path:
        relative = PurePosixPath(segment.path)
        if relative.is_absolute() or ".." in relative.parts:
            raise SegmentMoveError(f"refusing {segment.path}: not a path inside the media folder")
        return self._root / relative


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


class TieringLoop(PeriodicPass):
    """A daemon thread that runs a tiering pass every ``interval_s`` seconds (retry waits end on stop)."""

    def __init__(self, manager: TieringManager, interval_s: float) -> None:
        """Prepare; ``start()`` launches the thread."""
        super().__init__("tiering", manager.run_once, interval_s)
        manager.sleep = self.wait
