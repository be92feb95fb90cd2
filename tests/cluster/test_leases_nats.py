"""Camera leases over real NATS JetStream KV: claim, renew, takeover, exclusivity, placement, drain."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from tests.cluster.lease_support import FAST, cameras, free_port, lease_cluster
from watchkeeper.cluster import (
    ClusterError,
    ClusterUnavailableError,
    LossReason,
    UnknownWorkerError,
    WorkerId,
    WorkerInfo,
)
from watchkeeper.cluster.nats import BucketSettings, LeaseBucket, NatsCameraLeases
from watchkeeper.cluster.records import encode_lease, lease_key
from watchkeeper.domain import CameraId

SIX = cameras("cam-1", "cam-2", "cam-3", "cam-4", "cam-5", "cam-6")
ALL = {spec.camera_id for spec in SIX}


async def test_a_lone_worker_claims_every_camera_with_tokens_above_the_clock() -> None:
    async with lease_cluster() as cluster:
        floor_ms = time.time_ns() // 1_000_000
        worker = await cluster.spawn("w1", SIX)
        await cluster.wait_until(lambda: worker.holds() == ALL, what="all six cameras claimed")
        tokens = {change.camera.camera_id: change.token for change in worker.acquired()}
        assert tokens.keys() == ALL
        assert all(token >= floor_ms for token in tokens.values())
        assert dict(worker.leases.held()) == tokens
        assert all(change.previous_owner is None for change in worker.acquired())
        status = await cluster.control.status()
        assert {lease.camera_id for lease in status.leases} == ALL
        assert all(lease.owner == "w1" for lease in status.leases)


async def test_renewal_keeps_the_token_and_the_lease_fresh() -> None:
    async with lease_cluster() as cluster:
        worker = await cluster.spawn("w1", SIX[:2])
        await cluster.wait_until(lambda: len(worker.holds()) == 2, what="two cameras claimed")
        first = await cluster.control.status()
        before = dict(worker.leases.held())
        await asyncio.sleep(FAST.lease_timeout_s * 2)  # several heartbeats, more than one lease timeout
        after = await cluster.control.status()
        assert dict(worker.leases.held()) == before
        assert len(worker.changes) == 2  # no loss, no re-acquisition
        renewed = {lease.camera_id: lease.renewed_at for lease in after.leases}
        for lease in first.leases:
            assert lease.renewed_at is not None
            assert renewed[lease.camera_id] is not None
            assert renewed[lease.camera_id] > lease.renewed_at  # type: ignore[operator]
            assert lease.token == before[lease.camera_id]


async def test_a_stopped_worker_releases_at_once_and_another_takes_over_with_newer_tokens() -> None:
    async with lease_cluster() as cluster:
        first = await cluster.spawn("w1", SIX)
        await cluster.wait_until(lambda: first.holds() == ALL, what="w1 holds all")
        old_tokens = dict(first.leases.held())
        second = await cluster.spawn("w2", SIX)
        await asyncio.sleep(FAST.heartbeat_s * 2)
        assert second.holds() == set()  # nothing to take while w1 holds every lease
        started = time.monotonic()
        await first.stop()
        assert {loss.reason for loss in first.lost()} == {LossReason.STOPPED}
        await cluster.wait_until(lambda: second.holds() == ALL, what="w2 takes all")
        assert time.monotonic() - started < FAST.lease_timeout_s  # released, not expired
        for change in second.acquired():
            assert change.token > old_tokens[change.camera.camera_id]


async def test_workers_never_hold_one_camera_together_and_share_by_capacity() -> None:
    async with lease_cluster() as cluster:
        workers = [
            await cluster.spawn("w1", SIX, capacity=2),
            await cluster.spawn("w2", SIX, capacity=3),
            await cluster.spawn("w3", SIX, capacity=3),
        ]
        overlaps: list[set[CameraId]] = []

        def sample() -> bool:
            held = [worker.holds() for worker in workers]
            for i, mine in enumerate(held):
                for other in held[i + 1 :]:
                    if mine & other:
                        overlaps.append(mine & other)
            return set().union(*held) == ALL

        await cluster.wait_until(sample, what="all cameras placed")
        assert len(workers[0].holds()) <= 2
        assert len(workers[1].holds()) <= 3
        assert len(workers[2].holds()) <= 3
        await workers[1].stop()  # its cameras move; w1 is full, w3 has room for only 3
        for _ in range(40):
            sample()
            await asyncio.sleep(0.05)
        assert overlaps == []
        assert len(workers[0].holds()) <= 2
        assert len(workers[2].holds()) == 3


async def test_placement_spreads_free_cameras_over_the_least_loaded() -> None:
    async with lease_cluster() as cluster:
        workers = [await cluster.spawn(f"w{n}", []) for n in (1, 2, 3)]
        await asyncio.sleep(FAST.heartbeat_s * 2)  # every worker sees the others' heartbeats
        for worker in workers:
            await worker.leases.set_cameras(SIX)
        await cluster.wait_until(
            lambda: set().union(*(w.holds() for w in workers)) == ALL, what="all six placed"
        )
        assert sorted(len(worker.holds()) for worker in workers) == [2, 2, 2]


async def test_a_camera_pinned_to_a_site_goes_only_to_that_sites_workers() -> None:
    north = cameras("n-1", "n-2", site="north")
    south = cameras("s-1", site="south")
    floating = cameras("f-1")
    specs = north + south + floating
    async with lease_cluster() as cluster:
        anywhere = await cluster.spawn("w-none", specs)
        in_north = await cluster.spawn("w-north", specs, site="north")
        await cluster.wait_until(
            lambda: in_north.holds() == {CameraId("n-1"), CameraId("n-2")}, what="north cameras to w-north"
        )
        await asyncio.sleep(FAST.lease_timeout_s)
        assert CameraId("s-1") not in anywhere.holds() | in_north.holds()  # no south worker: stays free
        assert not anywhere.holds() & {CameraId("n-1"), CameraId("n-2")}
        assert CameraId("f-1") in anywhere.holds() | in_north.holds()


async def test_drain_hands_cameras_over_one_by_one_with_newer_tokens() -> None:
    async with lease_cluster() as cluster:
        old = await cluster.spawn("w-old", SIX[:3])
        await cluster.wait_until(lambda: len(old.holds()) == 3, what="w-old holds three")
        new = await cluster.spawn("w-new", SIX[:3])
        old_tokens = dict(old.leases.held())
        await cluster.control.drain(WorkerId("w-old"))
        status = await cluster.control.wait_drained(WorkerId("w-old"), timeout_s=15)
        assert {lease.owner for lease in status.leases} == {"w-new"}
        await cluster.wait_until(lambda: len(new.holds()) == 3, timeout=2, what="w-new holds three")
        # the new owner has started; the old one lets go at its next scan
        await cluster.wait_until(lambda: not old.holds(), timeout=FAST.heartbeat_s * 4, what="w-old lets go")
        assert status.worker(WorkerId("w-old")) is not None
        assert status.worker(WorkerId("w-old")).draining  # type: ignore[union-attr]
        for change in new.acquired():
            assert change.previous_owner == "w-old"
            assert change.token > old_tokens[change.camera.camera_id]
        await cluster.wait_until(lambda: len(old.lost()) == 3, what="w-old reports three losses")
        assert {(loss.reason, loss.new_owner) for loss in old.lost()} == {(LossReason.HANDED_OVER, "w-new")}
        # one at a time: the new owner acquired each camera before the old one lost the next
        order = sorted(new.acquired(), key=lambda change: change.token)
        assert [c.camera.camera_id for c in order] == sorted(spec.camera_id for spec in SIX[:3])


async def test_a_draining_worker_keeps_cameras_nobody_else_can_take_and_undrain_resumes() -> None:
    async with lease_cluster() as cluster:
        lone = await cluster.spawn("w-lone", SIX[:2])
        await cluster.wait_until(lambda: len(lone.holds()) == 2, what="two held")
        await cluster.control.drain(WorkerId("w-lone"))
        with pytest.raises(TimeoutError, match="still holds 2"):
            await cluster.control.wait_drained(WorkerId("w-lone"), timeout_s=FAST.lease_timeout_s)
        assert len(lone.holds()) == 2
        await cluster.control.undrain(WorkerId("w-lone"))
        status = await cluster.control.status()
        assert not status.worker(WorkerId("w-lone")).draining  # type: ignore[union-attr]


async def test_draining_an_unknown_worker_is_a_typed_error() -> None:
    async with lease_cluster() as cluster:
        await cluster.spawn("w1", [])
        with pytest.raises(UnknownWorkerError, match=r"no live worker 'ghost' \(live workers: w1\)"):
            await cluster.control.drain(WorkerId("ghost"))


async def test_status_lists_workers_with_their_cameras_and_lease_expiry() -> None:
    async with lease_cluster() as cluster:
        worker = await cluster.spawn("w1", SIX[:2], capacity=7, site="north")
        await cluster.wait_until(lambda: len(worker.holds()) == 2, what="two held")
        status = await cluster.control.status()
        (state,) = status.workers
        assert state.info == WorkerInfo(WorkerId("w1"), "test-host", 7, "cpu", "north", "test")  # type: ignore[arg-type]
        assert state.alive
        assert not state.draining
        assert state.cameras == (CameraId("cam-1"), CameraId("cam-2"))
        assert state.load == 2
        for lease in status.leases:
            assert lease.owner == "w1"
            assert lease.renewed_at is not None
            assert lease.expires_at is not None
            assert (lease.expires_at - lease.renewed_at).total_seconds() == pytest.approx(
                FAST.lease_timeout_s
            )
            age = lease.age_s(status.at)
            assert age is not None
            assert age < FAST.lease_timeout_s
        await worker.stop()
        after = await cluster.control.status()
        assert after.workers == ()
        assert all(lease.owner is None for lease in after.leases)


async def test_starting_without_nats_is_a_clear_typed_error() -> None:
    leases = NatsCameraLeases(
        BucketSettings(url=f"nats://user:secret@127.0.0.1:{free_port()}", bucket="wk_down")
    )
    info = WorkerInfo(WorkerId("w1"), "h", 1)
    with pytest.raises(ClusterUnavailableError, match=r"cannot reach NATS at nats://127\.0\.0\.1") as caught:
        await leases.start(info, SIX)
    assert "secret" not in str(caught.value)
    assert leases.held() == {}
    with pytest.raises(ClusterError, match="not started"):
        await leases.status()


async def test_starting_twice_is_refused() -> None:
    async with lease_cluster() as cluster:
        worker = await cluster.spawn("w1", [])
        with pytest.raises(ClusterError, match="already started"):
            await worker.leases.start(worker.info, [])


async def test_a_renewal_that_landed_unseen_does_not_lose_the_camera() -> None:
    """A renewal whose answer was lost moved the revision on; the owner adopts it instead of giving up."""
    async with lease_cluster() as cluster:
        worker = await cluster.spawn("w1", SIX[:1])
        await cluster.wait_until(lambda: len(worker.holds()) == 1, what="one held")
        bucket = await LeaseBucket.open(cluster.settings)
        try:
            stored = await bucket.get_lease(lease_key(CameraId("cam-1")))
            assert stored is not None
            await bucket.put(lease_key(CameraId("cam-1")), encode_lease(stored.record))  # same owner, token
        finally:
            await bucket.close()
        await asyncio.sleep(FAST.heartbeat_s * 3)
        assert worker.holds() == {CameraId("cam-1")}
        assert len(worker.changes) == 1  # no loss, no re-acquisition


async def test_a_lease_rewritten_by_another_owner_is_reported_taken() -> None:
    async with lease_cluster() as cluster:
        worker = await cluster.spawn("w1", SIX[:1])
        await cluster.spawn("w-other", [])  # alive, so its lease counts as live
        await cluster.wait_until(lambda: len(worker.holds()) == 1, what="one held")
        bucket = await LeaseBucket.open(cluster.settings)
        try:
            stored = await bucket.get_lease(lease_key(CameraId("cam-1")))
            assert stored is not None
            usurper = replace(stored.record, owner=WorkerId("w-other"), token=stored.record.token + 1)
            await bucket.put(lease_key(CameraId("cam-1")), encode_lease(usurper))
        finally:
            await bucket.close()
        await cluster.wait_until(lambda: bool(worker.lost()), what="the loss is noticed")
        (loss,) = worker.lost()
        assert (loss.reason, loss.new_owner) in {(LossReason.TAKEN, "w-other"), (LossReason.TAKEN, None)}
        assert worker.holds() == set()
