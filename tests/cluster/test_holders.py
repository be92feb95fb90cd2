"""Cameras no live worker holds: HolderTracker (pure) and HolderWatch over real NATS leases."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.cluster.lease_support import cameras, free_port, lease_cluster
from watchkeeper.bus.local import LocalBus
from watchkeeper.bus.messages import CameraStatusMessage
from watchkeeper.bus.protocol import Subscription
from watchkeeper.cluster import ClusterStatus, FencingToken, WorkerId
from watchkeeper.cluster.holders import HolderTracker, Unheld
from watchkeeper.cluster.model import LeaseState, UnreachableSite
from watchkeeper.cluster.nats import BucketSettings
from watchkeeper.cluster.nats.control import NatsClusterControl
from watchkeeper.cluster.protocol import ClusterControl
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.domain import CameraId, CameraState
from watchkeeper.runtime.holder_watch import NO_HOLDER_REASON, HolderTiming, HolderWatch, camera_domains

CAM = CameraId("cam1")
T0 = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
TIMEOUT = 6.0


def _lease(owner: str | None, token: int, renewed_s: float) -> LeaseState:
    at = T0 + timedelta(seconds=renewed_s)
    return LeaseState(
        camera_id=CAM,
        owner=None if owner is None else WorkerId(owner),
        token=FencingToken(token),
        acquired_at=None if owner is None else T0,
        renewed_at=None if owner is None else at,
        expires_at=None if owner is None else at + timedelta(seconds=TIMEOUT),
    )


def _status(*leases: LeaseState) -> ClusterStatus:
    return ClusterStatus(at=T0, leases=leases)


def _run(tracker: HolderTracker, steps: list[tuple[float, ClusterStatus]]) -> dict[float, list[Unheld]]:
    return {now: found for now, status in steps if (found := tracker.observe(status, now))}


def test_a_lease_renewed_every_heartbeat_is_held_for_ever() -> None:
    tracker = HolderTracker([CAM], TIMEOUT)
    steps = [(float(t), _status(_lease("w1", 1, t))) for t in range(0, 60, 2)]
    assert _run(tracker, steps) == {}
    assert tracker.unheld == frozenset()


def test_an_expired_lease_without_a_new_holder_is_reported_once_after_two_timeouts() -> None:
    tracker = HolderTracker([CAM], TIMEOUT)
    steps = [(float(t), _status(_lease("w1", 1, min(t, 10)))) for t in range(0, 40)]
    reports = _run(tracker, steps)
    # Last renewal seen at 10 s: expired at 16 s, no holder until 22 s.
    assert reports == {22.0: [Unheld(CAM, WorkerId("w1"), T0 + timedelta(seconds=10))]}
    assert tracker.unheld == {CAM}


def test_a_takeover_within_the_timeout_is_not_reported() -> None:
    tracker = HolderTracker([CAM], TIMEOUT)
    dead = [(float(t), _status(_lease("w1", 1, min(t, 10)))) for t in range(0, 20)]
    taken = [(float(t), _status(_lease("w2", 2, t))) for t in range(20, 40)]
    assert _run(tracker, dead + taken) == {}


@pytest.mark.parametrize(
    ("lease", "reported_at"),
    [
        (None, 6.0),  # never leased: a timeout after the observer started
        (_lease(None, 1, 0), 6.0),  # released (a worker stopped) and nobody took it
    ],
    ids=["never-leased", "released"],
)
def test_a_camera_without_any_lease_is_reported_after_one_timeout(
    lease: LeaseState | None, reported_at: float
) -> None:
    tracker = HolderTracker([CAM], TIMEOUT)
    status = _status() if lease is None else _status(lease)
    reports = _run(tracker, [(float(t), status) for t in range(0, 20)])
    assert list(reports) == [reported_at]
    assert reports[reported_at][0].last_renewed is None


def test_held_again_then_lost_again_is_reported_again_and_retry_repeats() -> None:
    tracker = HolderTracker([CAM], TIMEOUT)
    first = [(float(t), _status(_lease("w1", 1, 0))) for t in range(0, 14)]
    back = [(float(t), _status(_lease("w2", 2, t))) for t in range(14, 20)]
    lost = [(float(t), _status(_lease("w2", 2, 19))) for t in range(20, 40)]
    reports = _run(tracker, first + back + lost)
    assert list(reports) == [12.0, 31.0]
    tracker.retry(CAM)  # the report was lost: the next observation reports it again
    assert tracker.observe(_status(_lease("w2", 2, 19)), 41.0) == [
        Unheld(CAM, WorkerId("w2"), T0 + timedelta(seconds=19))
    ]


def test_a_camera_of_an_unreachable_site_is_not_judged_until_the_site_answers() -> None:
    tracker = HolderTracker([CAM], TIMEOUT)
    away = ClusterStatus(at=T0, unreachable=(UnreachableSite("site2", "nothing answers"),))
    # Held at site2, then site2's bucket cannot be read for a minute: the hub cannot tell a cut from a death.
    steps = [(0.0, _status(_lease("w2", 1, 0))), *((float(t), away) for t in range(1, 61))]
    assert _run(tracker, steps) == {}
    # Site2 answers again with the lease still there but never renewed since: judged from the last read
    # while it was away (t=60), as if the lease had been seen then: two timeouts later.
    stale = _status(_lease("w2", 1, 0))
    reports = _run(tracker, [(float(t), stale) for t in range(61, 80)])
    assert list(reports) == [60.0 + 2 * TIMEOUT]
    assert reports[60.0 + 2 * TIMEOUT] == [Unheld(CAM, WorkerId("w2"), T0)]


def test_a_camera_leased_at_a_readable_site_is_judged_while_another_site_is_away() -> None:
    tracker = HolderTracker([CAM], TIMEOUT)
    away = (UnreachableSite("site2", "nothing answers"),)
    steps = [
        (float(t), ClusterStatus(at=T0, leases=(_lease("w1", 1, min(t, 10)),), unreachable=away))
        for t in range(40)
    ]
    reports = _run(tracker, steps)
    assert list(reports) == [10.0 + 2 * TIMEOUT]


def test_only_cameras_of_the_unreachable_site_wait_when_their_sites_are_known() -> None:
    north, south = CameraId("n-1"), CameraId("s-1")
    tracker = HolderTracker([north, south], TIMEOUT)
    tracker.set_domains({north: "site-north", south: "site-south"})
    away = ClusterStatus(at=T0, unreachable=(UnreachableSite("site-south", "nothing answers"),))
    # Neither camera has a lease anywhere that was read: north's site answered, so north is judged (one
    # timeout for a camera never leased); south's site did not, so south waits.
    reports = _run(tracker, [(float(t), away) for t in range(20)])
    assert reports == {TIMEOUT: [Unheld(north, None, None)]}


def test_camera_domains_follow_the_hub_sources() -> None:
    config = WatchkeeperConfig.model_validate(
        {
            "storage": {
                "bus": {
                    "type": "nats",
                    "site": "hub",
                    "sources": [{"domain": "leaf-north", "site": "north"}, {"domain": "south"}],
                }
            },
            "cameras": [
                {
                    "id": cam,
                    "name": cam,
                    "site": site,
                    "inputs": [{"url": f"rtsp://127.0.0.1/{cam}", "roles": ["record", "detect"]}],
                }
                for cam, site in (("n-1", "north"), ("s-1", "south"), ("x-1", "elsewhere"))
            ],
            "sites": [{"id": site, "name": site} for site in ("north", "south", "elsewhere")],
        }
    )
    assert camera_domains(config) == {"n-1": "leaf-north", "s-1": "south"}
    assert camera_domains(WatchkeeperConfig()) == {}


def test_leases_of_other_cameras_are_ignored() -> None:
    tracker = HolderTracker([CameraId("cam9")], TIMEOUT)
    reports = _run(tracker, [(float(t), _status(_lease("w1", 1, t))) for t in range(0, 10)])
    assert [item.camera_id for found in reports.values() for item in found] == [CameraId("cam9")]


async def _next_status(subscription: Subscription, timeout_s: float) -> CameraStatusMessage:
    async def first() -> CameraStatusMessage:
        async for message in subscription:
            if isinstance(message, CameraStatusMessage):
                return message
        raise AssertionError("the subscription ended")

    return await asyncio.wait_for(first(), timeout_s)


async def test_the_watch_announces_a_camera_whose_worker_stopped_over_real_nats() -> None:
    async with lease_cluster() as cluster:
        worker = await cluster.spawn("w1", cameras("cam1"))
        await cluster.wait_until(lambda: worker.holds() == {CAM}, what="w1 to hold cam1")
        bus = LocalBus()
        await bus.start()
        statuses = await bus.subscribe("wk.cameras.*.status")
        shown = T0
        timing = HolderTiming(cluster.timing.heartbeat_s, cluster.timing.lease_timeout_s)

        async def open_control() -> ClusterControl:
            return await NatsClusterControl.open(cluster.settings, cluster.timing.lease_timeout_s)

        watch = HolderWatch(open_control, bus, [CAM], timing, lambda _: shown)
        await watch.start()
        try:
            await asyncio.sleep(cluster.timing.lease_timeout_s * 3)  # held all along: nothing announced
            stopped = time.monotonic()
            await worker.stop()  # releases the lease; nobody takes it
            message = await _next_status(statuses, cluster.timing.lease_timeout_s * 4)
            assert time.monotonic() - stopped >= cluster.timing.lease_timeout_s
            assert message.camera_id == CAM
            assert message.state is CameraState.OFFLINE
            assert message.reason == NO_HOLDER_REASON
            assert message.since > shown  # never older than what the board shows
        finally:
            await watch.stop()
            await statuses.close()
            await bus.close()


async def test_the_watch_survives_an_unreachable_lease_server(caplog: pytest.LogCaptureFixture) -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    settings = BucketSettings(url=url, bucket="wkt_none", request_timeout_s=0.2, connect_timeout_s=0.5)

    async def open_control() -> ClusterControl:
        return await NatsClusterControl.open(settings, 1.0)

    bus = LocalBus()
    await bus.start()
    statuses = await bus.subscribe("wk.cameras.*.status")
    watch = HolderWatch(open_control, bus, [CAM], HolderTiming(0.1, 0.3), lambda _: T0)
    with caplog.at_level(logging.WARNING, logger="watchkeeper.runtime.holder_watch"):
        await watch.start()
        await asyncio.sleep(2.5)  # several attempts, each refused
        await watch.stop()
    assert caplog.text.count("cannot read the camera leases") == 1
    with pytest.raises(TimeoutError):
        await _next_status(statuses, 0.2)  # nothing known: nothing announced
    await statuses.close()
    await bus.close()
