"""Unmask grants: four eyes, expiry, revocation, coverage, break glass; every step audited."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.custody.conftest import CAM, T0, Clock
from watchkeeper.audit.verify import all_records
from watchkeeper.domain import CameraId, ConflictError
from watchkeeper.domain.custody import GrantRefusedError, GrantScope, GrantState, NoGrantError, UnmaskGrant
from watchkeeper.privacy.grants import Actor, GrantRequest, GrantService, GrantSettings
from watchkeeper.storage.protocols import Store

INV, APP = Actor("ivy", "10.1.1.1"), Actor("abe", "10.1.1.2")
START, END = T0 - timedelta(hours=2), T0 - timedelta(hours=1)


def _ask(grants: GrantService, **changes: object) -> UnmaskGrant:
    ask = GrantRequest("ivy", (CAM,), START, END, "incident 42: theft at the loading dock")
    return grants.request(ask, INV.client)


def test_request_approve_use(store: Store, grants: GrantService, clock: Clock) -> None:
    grant = _ask(grants)
    assert grant.state is GrantState.PENDING
    with pytest.raises(NoGrantError):
        grants.authorize(INV, CAM, START, END, GrantScope.RECORDINGS)
    approved = grants.approve(grant.id, APP, "ok")
    assert approved.expires_at == T0 + timedelta(hours=24)
    assert grants.authorize(INV, CAM, START, END, GrantScope.RECORDINGS).id == grant.id
    with pytest.raises(NoGrantError):  # outside the range
        grants.authorize(INV, CAM, START, END + timedelta(seconds=1), GrantScope.RECORDINGS)
    with pytest.raises(NoGrantError):  # another camera
        grants.authorize(INV, CameraId("cam2"), START, END, GrantScope.RECORDINGS)
    with pytest.raises(NoGrantError):  # another user
        grants.authorize(APP, CAM, START, END, GrantScope.RECORDINGS)
    actions = [r.action for r in all_records(store.audit)]
    assert actions[:2] == ["unmask.request", "unmask.denied"]
    assert "unmask.approve" in actions
    assert "unmask.use" in actions
    approve = next(r for r in all_records(store.audit) if r.action == "unmask.approve")
    assert approve.actor == "abe"
    assert approve.client == "10.1.1.2"


def test_self_approval_is_refused(grants: GrantService) -> None:
    grant = _ask(grants)
    with pytest.raises(GrantRefusedError, match="your own"):
        grants.approve(grant.id, Actor("ivy"))
    with pytest.raises(GrantRefusedError, match="your own"):
        grants.refuse(grant.id, Actor("ivy"))
    assert grants.get(grant.id).state is GrantState.PENDING


def test_expired_grant_is_refused(grants: GrantService, clock: Clock) -> None:
    grant = grants.approve(_ask(grants).id, APP)
    clock.now = T0 + timedelta(hours=24)
    with pytest.raises(NoGrantError):
        grants.authorize(INV, CAM, START, END, GrantScope.RECORDINGS)
    assert not grant.active(clock.now)


def test_revoked_grant_is_refused(grants: GrantService) -> None:
    grant = grants.approve(_ask(grants).id, APP)
    grants.revoke(grant.id, APP)
    with pytest.raises(NoGrantError):
        grants.authorize(INV, CAM, START, END, GrantScope.RECORDINGS)
    with pytest.raises(GrantRefusedError, match="already revoked"):
        grants.revoke(grant.id, APP)


def test_decisions_only_on_pending_requests(grants: GrantService) -> None:
    grant = grants.refuse(_ask(grants).id, APP, "not enough reason")
    assert grant.state is GrantState.REFUSED
    with pytest.raises(GrantRefusedError, match="not pending"):
        grants.approve(grant.id, APP)


def test_concurrent_decision_conflicts(store: Store, grants: GrantService) -> None:
    grant = _ask(grants)
    grants.approve(grant.id, APP)
    with pytest.raises(ConflictError):
        store.grants.save(grant, GrantState.PENDING.value)


def test_validity_is_bounded(store: Store, grants: GrantService) -> None:
    ask = GrantRequest("ivy", (CAM,), START, END, "a long enough reason", valid_hours=10_000)
    with pytest.raises(GrantRefusedError, match="at most"):
        grants.request(ask)


def test_break_glass_is_live_only_loud_and_notifies(store: Store, grants: GrantService, clock: Clock) -> None:
    told: list[UnmaskGrant] = []
    service = GrantService(store.grants, grants._audit, GrantSettings(break_glass=True), told.append, clock)
    with pytest.raises(GrantRefusedError, match="reason"):
        service.break_glass(INV, [CAM], "hurry")
    grant = service.break_glass(INV, [CAM], "person collapsed on camera 1, need to see")
    assert told == [grant]
    assert grant.scope is GrantScope.LIVE
    assert grant.active(T0)
    assert service.authorize(INV, CAM, T0, T0 + timedelta(minutes=1), GrantScope.LIVE).id == grant.id
    with pytest.raises(NoGrantError):  # never recordings
        service.authorize(INV, CAM, T0, T0 + timedelta(minutes=1), GrantScope.RECORDINGS)
    assert any(r.action == "unmask.break_glass" for r in all_records(store.audit))
    assert service.authorize_live(INV, CAM).id == grant.id
    clock.now = T0 + timedelta(minutes=16)  # 15 minutes by default
    with pytest.raises(NoGrantError):
        service.authorize_live(INV, CAM)
    off = GrantService(store.grants, grants._audit, GrantSettings(), None, clock)  # off by default
    with pytest.raises(GrantRefusedError, match="turned off"):
        off.break_glass(INV, [CAM], "person collapsed on camera 1")
