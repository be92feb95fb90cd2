"""Failures with real processes and servers: kill -9 of a worker, NATS going away mid-run, fencing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cluster.lease_support import FAST, NATS_URL, PrivateNats, cameras, lease_cluster
from tests.storage.pg import migrated_store
from watchkeeper.cluster import LossReason, WorkerId
from watchkeeper.cluster.nats import LeaseTiming
from watchkeeper.domain import CameraId, Event, EventKind, Segment

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def start_worker_process(bucket: str, worker_id: str, names: list[str]) -> subprocess.Popen[str]:
    """A lease worker in its own Python process, printing its acquisitions."""
    command = [
        sys.executable,
        "-m",
        "tests.cluster.lease_worker_main",
        NATS_URL,
        bucket,
        worker_id,
        str(FAST.heartbeat_s),
        str(FAST.lease_timeout_s),
        *names,
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, text=True)


async def test_a_worker_killed_with_sigkill_loses_its_cameras_to_another_within_the_timeout() -> None:
    names = ["k-1", "k-2", "k-3", "k-4"]
    async with lease_cluster() as cluster:
        process = start_worker_process(cluster.settings.bucket, "w-doomed", names)
        try:
            await cluster.wait_for_status(
                lambda status: [lease.owner for lease in status.leases] == ["w-doomed"] * 4,
                timeout=20,
                what="the subprocess holds four cameras",
            )
            forgetful = LeaseTiming(FAST.heartbeat_s, FAST.lease_timeout_s, forget_dead_after_s=2.0)
            survivor = await cluster.spawn("w-survivor", cameras(*names), timing=forgetful)
            await asyncio.sleep(FAST.heartbeat_s * 2)
            assert survivor.holds() == set()
            killed_at = time.monotonic()
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            await cluster.wait_until(lambda: len(survivor.holds()) == 4, timeout=10, what="takeover")
            took_s = time.monotonic() - killed_at
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
        # no release happened: the survivor waited for the leases to go stale, then took them
        assert took_s >= FAST.lease_timeout_s * 0.9
        assert all(change.previous_owner == "w-doomed" for change in survivor.acquired())
        # the dead worker's record is removed from the status after forget_dead_after_s
        await cluster.wait_for_status(lambda status: status.worker(WorkerId("w-doomed")) is None, timeout=10)


async def test_nats_lost_mid_run_stops_the_cameras_and_they_come_back_after_reconnect(tmp_path: Path) -> None:
    server = PrivateNats(tmp_path / "nats")
    server.start()
    try:
        async with lease_cluster(url=server.url) as cluster:
            worker = await cluster.spawn("w1", cameras("d-1", "d-2"))
            await cluster.wait_until(lambda: len(worker.holds()) == 2, what="two held")
            first_tokens = dict(worker.leases.held())
            server.stop()
            lost_at = time.monotonic()
            await cluster.wait_until(
                lambda: not worker.holds(), timeout=FAST.lease_timeout_s * 3, what="gave up"
            )
            gave_up_s = time.monotonic() - lost_at
            assert {(loss.reason, loss.new_owner) for loss in worker.lost()} == {(LossReason.EXPIRED, None)}
            # it stops before anyone else could take them, but not at the first missed heartbeat
            assert gave_up_s < FAST.lease_timeout_s
            server.start()
            await cluster.wait_until(lambda: len(worker.holds()) == 2, timeout=15, what="reacquired")
            again = [c for c in worker.acquired() if c.token not in first_tokens.values()]
            assert {c.camera.camera_id for c in again} == set(first_tokens)
            for change in again:
                assert change.token > first_tokens[change.camera.camera_id]
    finally:
        server.stop()


def segment(number: int) -> Segment:
    start = T0 + timedelta(seconds=10 * number)
    return Segment(
        CameraId("f-1"), start, start + timedelta(seconds=10), f"f-1/{number}.mp4", 10, "h264", 64, 64, 1
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_after_a_takeover_the_old_owners_index_writes_are_refused(backend: str, tmp_path: Path) -> None:
    async with lease_cluster() as cluster:
        old = await cluster.spawn("w-old", cameras("f-1"))
        await cluster.wait_until(lambda: len(old.holds()) == 1, what="w-old holds f-1")
        (old_token,) = old.leases.held().values()
        new = await cluster.spawn("w-new", cameras("f-1"))
        await old.stop()
        await cluster.wait_until(lambda: len(new.holds()) == 1, what="w-new takes f-1")
        (new_token,) = new.leases.held().values()
    assert new_token > old_token
    with migrated_store(backend, tmp_path) as store:
        assert store.fences.add_segment(segment(0), old_token) is not None  # before the takeover
        assert store.fences.add_segment(segment(1), new_token) is not None  # the new owner's first segment
        assert store.fences.add_segment(segment(2), old_token) is None  # the old owner, too late
        assert (
            store.fences.upsert_event(
                Event("late", CameraId("f-1"), EventKind.MOTION, T0, None, 0.5), old_token
            )
            is False
        )
        assert [s.path for s in store.segments.list(CameraId("f-1"))] == ["f-1/0.mp4", "f-1/1.mp4"]
