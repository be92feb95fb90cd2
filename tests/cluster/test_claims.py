"""Claim order is pure: planned cameras at once, others after a grace period that grows with rank."""

from __future__ import annotations

from collections.abc import Mapping

from watchkeeper.cluster import CameraSpec, WorkerId, WorkerInfo
from watchkeeper.cluster.nats.claims import MAX_GRACE_STEPS, ClaimRule, claim_order, decide, grace_s
from watchkeeper.cluster.nats.view import Offer
from watchkeeper.cluster.placement import Candidate, plan, ranking
from watchkeeper.domain import CameraId, SiteId

PATIENCE = 4.0


def worker(name: str, load: int = 0, capacity: int = 10, site: str | None = None) -> Candidate:
    info = WorkerInfo(WorkerId(name), "h", capacity, site=None if site is None else SiteId(site))
    return Candidate(info, load)


def offers(count: int, site: str | None = None) -> list[Offer]:
    return [
        Offer(CameraSpec(CameraId(f"cam-{n:03d}"), None if site is None else SiteId(site)), None, 0)
        for n in range(count)
    ]


def rule(me: Candidate, planned: Mapping[CameraId, WorkerId], waited: float) -> ClaimRule:
    free_for = {CameraId(f"cam-{n:03d}"): waited for n in range(100)}
    return ClaimRule(me.info, planned, free_for, PATIENCE)


CANDIDATES = [worker("a"), worker("b"), worker("c"), worker("d"), worker("e")]


def test_a_worker_claims_its_planned_cameras_at_once_and_no_others() -> None:
    free = offers(20)
    planned = plan([offer.camera for offer in free], CANDIDATES)
    me = CANDIDATES[0]
    claimed = claim_order(free, CANDIDATES, rule(me, planned, 0.0))
    assert [offer.camera.camera_id for offer in claimed] == sorted(c for c, w in planned.items() if w == "a")
    assert claimed  # 20 cameras over 5 workers: a's quota is 4


def test_workers_claim_disjoint_sets_when_they_read_the_same_bucket() -> None:
    free = offers(50)
    planned = plan([offer.camera for offer in free], CANDIDATES)
    claims = [
        {offer.camera.camera_id for offer in claim_order(free, CANDIDATES, rule(me, planned, 0.0))}
        for me in CANDIDATES
    ]
    assert sum(len(c) for c in claims) == 50
    assert set().union(*claims) == {offer.camera.camera_id for offer in free}


def test_the_grace_period_grows_with_the_workers_place_in_the_ranking() -> None:
    camera = CameraSpec(CameraId("cam-007"))
    order = ranking(camera, CANDIDATES)
    planned = {camera.camera_id: WorkerId("nobody-alive")}  # planned for a worker that never claims
    by_worker = {c.info.worker_id: c for c in CANDIDATES}
    waits = [grace_s(camera, CANDIDATES, rule(by_worker[w], planned, 0.0)) for w in order]
    assert waits == [PATIENCE, 2 * PATIENCE, 3 * PATIENCE, 3 * PATIENCE, MAX_GRACE_STEPS * PATIENCE]
    # the planned worker is not in line: the best ranked of the others comes first
    planned_first = {camera.camera_id: order[0]}
    assert grace_s(camera, CANDIDATES, rule(by_worker[order[0]], planned_first, 0.0)) == 0.0
    assert grace_s(camera, CANDIDATES, rule(by_worker[order[1]], planned_first, 0.0)) == PATIENCE


def test_after_the_grace_periods_workers_claim_in_rank_order_not_all_the_same_keys() -> None:
    free = offers(30)
    nobody = {offer.camera.camera_id: WorkerId("gone") for offer in free}
    # free for one grace step: each camera is claimed by its first-ranked worker only
    claimants: dict[CameraId, set[WorkerId]] = {}
    for me in CANDIDATES:
        for offer in claim_order(free, CANDIDATES, rule(me, nobody, PATIENCE)):
            claimants.setdefault(offer.camera.camera_id, set()).add(me.info.worker_id)
    assert set(claimants) == {offer.camera.camera_id for offer in free}
    for camera_id, workers in claimants.items():
        assert workers == set(ranking(CameraSpec(camera_id), CANDIDATES)[:1])
    # and each worker puts the cameras it ranks higher for first
    me = CANDIDATES[2]
    ordered = claim_order(free, CANDIDATES, rule(me, nobody, 10 * PATIENCE))
    waits = [grace_s(offer.camera, CANDIDATES, rule(me, nobody, 0.0)) for offer in ordered]
    assert waits == sorted(w for w in waits if w is not None)
    assert len(ordered) == 30


def test_nothing_planned_for_another_is_claimed_before_one_grace_step() -> None:
    free = offers(10)
    planned = {offer.camera.camera_id: WorkerId("b") for offer in free}
    assert claim_order(free, CANDIDATES, rule(CANDIDATES[0], planned, PATIENCE - 0.01)) == []


def test_full_workers_do_not_count_in_the_ranking_for_the_grace_period() -> None:
    camera = CameraSpec(CameraId("cam-001"))
    order = ranking(camera, CANDIDATES)
    full = [worker(c.info.worker_id, load=10) if c.info.worker_id in order[:3] else c for c in CANDIDATES]
    fourth = next(c for c in full if c.info.worker_id == order[3])
    # the three better-ranked workers are full, so the fourth waits one grace step, not three
    planned = {camera.camera_id: WorkerId(order[4])}
    assert grace_s(camera, full, rule(fourth, planned, 0.0)) == PATIENCE


def test_a_worker_never_claims_what_it_does_not_serve_or_while_draining() -> None:
    north = offers(3, site="north")
    me = worker("south", site="south")
    candidates = [me, worker("n", site="north")]
    nobody = {offer.camera.camera_id: WorkerId("n") for offer in north}
    assert claim_order(north, candidates, rule(me, nobody, 100 * PATIENCE)) == []
    draining = Candidate(WorkerInfo(WorkerId("a"), "h", 10), 0, draining=True)
    free = offers(3)
    elsewhere = {offer.camera.camera_id: WorkerId("b") for offer in free}
    assert claim_order(free, [draining, worker("b")], rule(draining, elsewhere, 100 * PATIENCE)) == []


def test_decide_says_when_the_next_grace_period_ends() -> None:
    free = offers(1)
    camera = free[0].camera
    order = ranking(camera, CANDIDATES)
    planned = {camera.camera_id: order[0]}
    by_worker = {c.info.worker_id: c for c in CANDIDATES}
    second = by_worker[order[2]]  # second in line behind the planned worker: two grace steps
    early = decide(free, CANDIDATES, rule(second, planned, 1.0))
    assert early.due == ()
    assert early.next_in_s == PATIENCE - 1.0  # look again after one step; the ranking is read then
    later = decide(free, CANDIDATES, rule(second, planned, PATIENCE + 1.0))
    assert later.due == ()
    assert later.next_in_s == PATIENCE - 1.0  # two steps in all
    assert decide(free, CANDIDATES, rule(second, planned, 2 * PATIENCE)).due == tuple(free)
    assert decide(free, CANDIDATES, rule(by_worker[order[0]], planned, 0.0)).next_in_s is None
