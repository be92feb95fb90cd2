"""Rebalancing: the choice of one camera to move (pure) and the moves themselves over real NATS."""

from __future__ import annotations

import asyncio

import pytest

from tests.cluster.lease_support import cameras, lease_cluster
from watchkeeper.cluster import LossReason, WorkerId, WorkerInfo
from watchkeeper.cluster.model import CameraSpec
from watchkeeper.cluster.placement import Candidate
from watchkeeper.cluster.rebalance import Move, RebalancePolicy, choose_move
from watchkeeper.domain import CameraId, SiteId

FOUR = cameras("cam-1", "cam-2", "cam-3", "cam-4")


def _worker(name: str, load: int, capacity: int = 10, site: str | None = None) -> Candidate:
    info = WorkerInfo(WorkerId(name), "host", capacity, "cpu", None if site is None else SiteId(site))
    return Candidate(info, load)


def _held(load: int) -> list[CameraId]:
    return [CameraId(f"cam-{n}") for n in range(1, load + 1)]


@pytest.mark.parametrize(
    ("me", "others", "policy", "expected"),
    [
        (_worker("w1", 4), [_worker("w2", 0)], RebalancePolicy(), Move(CameraId("cam-4"), WorkerId("w2"))),
        (_worker("w1", 3), [_worker("w2", 1)], RebalancePolicy(), Move(CameraId("cam-3"), WorkerId("w2"))),
        (_worker("w1", 2), [_worker("w2", 1)], RebalancePolicy(), None),  # a move would only swap
        (_worker("w1", 3), [_worker("w2", 1)], RebalancePolicy(min_imbalance=3), None),
        (_worker("w1", 4), [_worker("w2", 0)], RebalancePolicy(enabled=False), None),
        # w2 holds none of 1: one camera would fill it, above w1's share; w3 (1 of 10) is the target.
        (_worker("w1", 4), [_worker("w2", 0, capacity=1), _worker("w3", 1)], RebalancePolicy(),
         Move(CameraId("cam-4"), WorkerId("w3"))),
        (_worker("w1", 5), [_worker("w3", 1), _worker("w2", 1)], RebalancePolicy(),
         Move(CameraId("cam-5"), WorkerId("w2"))),  # a tie goes to the smallest id
        (_worker("w1", 4), [_worker("w2", 1, capacity=1)], RebalancePolicy(), None),  # w2 is full
        # Capacity-weighted: w1 holds 4 of 8, w2 2 of 2 -> w2 full; w3 holds 2 of 4 (same share): no move.
        (_worker("w1", 4, capacity=8), [_worker("w3", 2, capacity=4)], RebalancePolicy(), None),
        # w1 holds 6 of 20 (0.30), w2 3 of 6 (0.50): w2 would end up even more loaded per capacity.
        (_worker("w1", 6, capacity=20), [_worker("w2", 3, capacity=6)], RebalancePolicy(), None),
    ],
    ids=[
        "4-0", "3-1", "2-1-balanced", "threshold-3", "disabled", "per-capacity", "tie", "target-full",
        "same-share", "target-more-loaded-per-capacity",
    ],
)  # fmt: skip
def test_choose_move(
    me: Candidate, others: list[Candidate], policy: RebalancePolicy, expected: Move | None
) -> None:
    specs = {camera_id: CameraSpec(camera_id) for camera_id in _held(me.load)}
    assert choose_move(_held(me.load), specs, [me, *others], me, policy) == expected


def test_a_move_goes_only_to_a_worker_of_the_cameras_site() -> None:
    me = _worker("w1", 4, site="north")
    south = _worker("w2", 0, site="south")
    pinned = {camera_id: CameraSpec(camera_id, SiteId("north")) for camera_id in _held(4)}
    assert choose_move(_held(4), pinned, [me, south], me, RebalancePolicy()) is None
    north = _worker("w3", 0, site="north")
    assert choose_move(_held(4), pinned, [me, south, north], me, RebalancePolicy()) == Move(
        CameraId("cam-4"), WorkerId("w3")
    )


def test_a_draining_worker_does_not_rebalance_and_the_threshold_is_at_least_two() -> None:
    me = Candidate(_worker("w1", 4).info, 4, draining=True)
    assert choose_move(_held(4), {}, [me, _worker("w2", 0)], me, RebalancePolicy()) is None
    with pytest.raises(ValueError, match="at least 2"):
        RebalancePolicy(min_imbalance=1)


async def test_a_joining_worker_gets_its_share_by_handover_one_camera_at_a_time() -> None:
    async with lease_cluster() as cluster:
        first = await cluster.spawn("w1", FOUR)
        await cluster.wait_until(lambda: len(first.holds()) == 4, what="w1 to hold all four")
        second = await cluster.spawn("w2", FOUR)
        await cluster.wait_until(
            lambda: len(first.holds()) == 2 and len(second.holds()) == 2, timeout=20, what="2/2"
        )
        await asyncio.sleep(cluster.timing.lease_timeout_s * 2)  # and it stays there: no ping-pong
        assert len(first.holds()) == 2
        assert len(second.holds()) == 2
        assert first.holds() | second.holds() == {spec.camera_id for spec in FOUR}
        lost = first.lost()
        assert [change.reason for change in lost] == [LossReason.HANDED_OVER] * 2
        assert {change.new_owner for change in lost} == {WorkerId("w2")}
        moved = second.acquired()
        assert [change.previous_owner for change in moved] == [WorkerId("w1")] * 2
        tokens = {change.camera.camera_id: change.token for change in first.acquired()}
        assert all(change.token > tokens[change.camera.camera_id] for change in moved)


async def test_with_rebalancing_off_a_joining_worker_takes_nothing() -> None:
    async with lease_cluster() as cluster:
        off = RebalancePolicy(enabled=False)
        first = await cluster.spawn("w1", FOUR, rebalance=off)
        await cluster.wait_until(lambda: len(first.holds()) == 4, what="w1 to hold all four")
        second = await cluster.spawn("w2", FOUR, rebalance=off)
        await asyncio.sleep(cluster.timing.lease_timeout_s * 3)
        assert second.holds() == set()
        assert len(first.holds()) == 4
        assert first.lost() == []
