"""Placement is pure: least loaded with spare capacity first, sites respected, draining workers skipped."""

from __future__ import annotations

import pytest

from watchkeeper.cluster import CameraSpec, WorkerId, WorkerInfo
from watchkeeper.cluster.nats.handover import Handover
from watchkeeper.cluster.placement import Candidate, best_worker, plan
from watchkeeper.domain import CameraId, SiteId


def worker(
    name: str, capacity: int = 10, load: int = 0, site: str | None = None, draining: bool = False
) -> Candidate:
    info = WorkerInfo(WorkerId(name), "h", capacity, site=None if site is None else SiteId(site))
    return Candidate(info, load, draining)


def cams(count: int, site: str | None = None) -> list[CameraSpec]:
    return [CameraSpec(CameraId(f"c{n:02d}"), None if site is None else SiteId(site)) for n in range(count)]


def test_free_cameras_spread_evenly_over_equal_workers() -> None:
    placed = plan(cams(6), [worker("a"), worker("b"), worker("c")])
    assert sorted(list(placed.values()).count(w) for w in ("a", "b", "c")) == [2, 2, 2]


def test_capacity_is_never_exceeded_and_overflow_stays_unplaced() -> None:
    placed = plan(cams(7), [worker("a", capacity=2), worker("b", capacity=3, load=1)])
    assert list(placed.values()).count(WorkerId("a")) == 2
    assert list(placed.values()).count(WorkerId("b")) == 2
    assert len(placed) == 4


def test_load_is_weighed_against_capacity() -> None:
    big, small = worker("big", capacity=100, load=10), worker("small", capacity=4, load=1)
    assert best_worker(CameraSpec(CameraId("x")), [big, small]) == "big"  # 10 % busy against 25 %


@pytest.mark.parametrize(
    ("camera_site", "expected"),
    [("north", "n"), ("south", None), (None, "any")],
)
def test_pinned_cameras_go_only_to_their_sites_workers(camera_site: str | None, expected: str | None) -> None:
    candidates = [worker("any", load=0), worker("n", load=5, site="north")]
    spec = CameraSpec(CameraId("x"), None if camera_site is None else SiteId(camera_site))
    assert best_worker(spec, candidates) == expected


def test_draining_and_excluded_workers_take_nothing() -> None:
    candidates = [worker("a", draining=True), worker("b", load=9)]
    assert best_worker(CameraSpec(CameraId("x")), candidates) == "b"
    assert best_worker(CameraSpec(CameraId("x")), candidates, exclude=frozenset({WorkerId("b")})) is None


def test_ties_go_to_the_smallest_id_so_every_worker_computes_the_same_plan() -> None:
    first = plan(cams(3), [worker("b"), worker("a")])
    second = plan(cams(3), [worker("a"), worker("b")])
    assert first == second
    assert first[CameraId("c00")] == "a"


def test_handover_picks_the_first_camera_someone_else_can_take() -> None:
    me = WorkerId("old")
    candidates = [worker("old", load=2), worker("north-only", site="north")]
    specs = {
        spec.camera_id: spec
        for spec in [CameraSpec(CameraId("a"), SiteId("south")), CameraSpec(CameraId("b"), SiteId("north"))]
    }
    choice = Handover.choose([CameraId("a"), CameraId("b")], specs, candidates, me)
    assert choice is not None
    assert (choice.camera_id, choice.target) == ("b", "north-only")
    assert Handover.choose([CameraId("a")], specs, candidates, me) is None


def test_worker_info_rejects_a_capacity_below_one() -> None:
    with pytest.raises(ValueError, match="capacity must be at least 1, got 0"):
        WorkerInfo(WorkerId("w"), "h", 0)
