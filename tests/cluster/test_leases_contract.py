"""One behaviour suite for every ``CameraLeases`` backend (local and NATS)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.cluster.lease_support import FAST, cameras, lease_cluster
from watchkeeper.cluster import (
    CameraLeases,
    ClusterError,
    LeaseAcquired,
    LeaseChange,
    LeaseLost,
    LossReason,
    WorkerId,
    WorkerInfo,
)
from watchkeeper.cluster.local import LocalCameraLeases
from watchkeeper.cluster.nats import NatsCameraLeases

INFO = WorkerInfo(WorkerId("w-contract"), "host", 10)
SPECS = cameras("c-1", "c-2", "c-3")


@pytest.fixture(params=["local", "nats"])
async def leases(request: pytest.FixtureRequest) -> AsyncIterator[CameraLeases]:
    if request.param == "local":
        yield LocalCameraLeases()
        return
    async with lease_cluster() as cluster:
        backend = NatsCameraLeases(cluster.settings, FAST)
        try:
            yield backend
        finally:
            await backend.stop()


async def next_changes(stream: AsyncIterator[LeaseChange], count: int) -> list[LeaseChange]:
    return [await asyncio.wait_for(anext(stream), timeout=10) for _ in range(count)]


async def test_start_acquires_every_camera_and_stop_releases_them(leases: CameraLeases) -> None:
    await leases.start(INFO, SPECS)
    stream = aiter(leases.changes())
    acquired = await next_changes(stream, 3)
    assert all(isinstance(change, LeaseAcquired) for change in acquired)
    assert {change.camera.camera_id for change in acquired} == {"c-1", "c-2", "c-3"}
    assert dict(leases.held()) == {change.camera.camera_id: change.token for change in acquired}
    assert leases.worker_id == "w-contract"
    await leases.stop()
    lost = [change async for change in stream]
    assert [(type(c), c.reason) for c in lost if isinstance(c, LeaseLost)] == [
        (LeaseLost, LossReason.STOPPED)
    ] * 3
    assert leases.held() == {}


async def test_removed_cameras_are_released_and_new_ones_acquired(leases: CameraLeases) -> None:
    await leases.start(INFO, SPECS[:2])
    stream = aiter(leases.changes())
    await next_changes(stream, 2)
    await leases.set_cameras(SPECS[1:])
    changes = await next_changes(stream, 2)
    lost = [c for c in changes if isinstance(c, LeaseLost)]
    gained = [c for c in changes if isinstance(c, LeaseAcquired)]
    assert [(c.camera.camera_id, c.reason) for c in lost] == [("c-1", LossReason.REMOVED)]
    assert [c.camera.camera_id for c in gained] == ["c-3"]
    assert set(leases.held()) == {"c-2", "c-3"}


async def test_status_shows_this_worker_and_its_cameras(leases: CameraLeases) -> None:
    await leases.start(INFO, SPECS)
    stream = aiter(leases.changes())
    await next_changes(stream, 3)
    status = await leases.status()
    worker = status.worker(WorkerId("w-contract"))
    assert worker is not None
    assert worker.alive
    assert worker.cameras == ("c-1", "c-2", "c-3")
    assert {lease.camera_id: lease.token for lease in status.leases} == dict(leases.held())


async def test_a_second_start_is_refused(leases: CameraLeases) -> None:
    await leases.start(INFO, [])
    with pytest.raises(ClusterError, match="already started"):
        await leases.start(INFO, [])
