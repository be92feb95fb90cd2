"""The state machine table: every state x action, with the expected state or the expected error."""

from __future__ import annotations

import pytest

from tests.incidents.conftest import T0
from watchkeeper.domain.incidents import (
    AlarmSource,
    Incident,
    IncidentAction,
    IncidentCategory,
    IncidentState,
    Priority,
)
from watchkeeper.incidents.errors import InvalidTransitionError, ResolutionRequiredError
from watchkeeper.incidents.workflow import allowed_actions, apply_action

S = IncidentState
A = IncidentAction
BAD = InvalidTransitionError

TABLE: list[tuple[IncidentState, IncidentAction, IncidentState | type[Exception]]] = [
    (S.NEW, A.ACKNOWLEDGE, S.ACKNOWLEDGED),
    (S.NEW, A.START, S.IN_PROGRESS),
    (S.NEW, A.HOLD, BAD),
    (S.NEW, A.RESUME, BAD),
    (S.NEW, A.RESOLVE, S.RESOLVED),
    (S.NEW, A.CLOSE, BAD),
    (S.NEW, A.REOPEN, BAD),
    (S.ACKNOWLEDGED, A.ACKNOWLEDGE, BAD),
    (S.ACKNOWLEDGED, A.START, S.IN_PROGRESS),
    (S.ACKNOWLEDGED, A.HOLD, S.ON_HOLD),
    (S.ACKNOWLEDGED, A.RESUME, BAD),
    (S.ACKNOWLEDGED, A.RESOLVE, S.RESOLVED),
    (S.ACKNOWLEDGED, A.CLOSE, BAD),
    (S.ACKNOWLEDGED, A.REOPEN, BAD),
    (S.IN_PROGRESS, A.ACKNOWLEDGE, BAD),
    (S.IN_PROGRESS, A.START, BAD),
    (S.IN_PROGRESS, A.HOLD, S.ON_HOLD),
    (S.IN_PROGRESS, A.RESUME, BAD),
    (S.IN_PROGRESS, A.RESOLVE, S.RESOLVED),
    (S.IN_PROGRESS, A.CLOSE, BAD),
    (S.IN_PROGRESS, A.REOPEN, BAD),
    (S.ON_HOLD, A.ACKNOWLEDGE, BAD),
    (S.ON_HOLD, A.START, BAD),
    (S.ON_HOLD, A.HOLD, BAD),
    (S.ON_HOLD, A.RESUME, S.IN_PROGRESS),
    (S.ON_HOLD, A.RESOLVE, S.RESOLVED),
    (S.ON_HOLD, A.CLOSE, BAD),
    (S.ON_HOLD, A.REOPEN, BAD),
    (S.RESOLVED, A.ACKNOWLEDGE, BAD),
    (S.RESOLVED, A.START, BAD),
    (S.RESOLVED, A.HOLD, BAD),
    (S.RESOLVED, A.RESUME, BAD),
    (S.RESOLVED, A.RESOLVE, BAD),
    (S.RESOLVED, A.CLOSE, S.CLOSED),
    (S.RESOLVED, A.REOPEN, S.IN_PROGRESS),
    (S.CLOSED, A.ACKNOWLEDGE, BAD),
    (S.CLOSED, A.START, BAD),
    (S.CLOSED, A.HOLD, BAD),
    (S.CLOSED, A.RESUME, BAD),
    (S.CLOSED, A.RESOLVE, BAD),
    (S.CLOSED, A.CLOSE, BAD),
    (S.CLOSED, A.REOPEN, S.IN_PROGRESS),
]


def _incident(state: IncidentState) -> Incident:
    return Incident(
        id="inc-1",
        type_code="FIRE_SMOKE",
        category=IncidentCategory.SAFETY,
        title="Fire",
        state=state,
        priority=Priority.CRITICAL,
        source=AlarmSource.OPERATOR,
        created_at=T0,
        updated_at=T0,
        next_escalation_at=T0,
    )


def test_the_table_covers_every_state_and_action() -> None:
    assert {(s, a) for s, a, _ in TABLE} == {(s, a) for s in IncidentState for a in IncidentAction}


@pytest.mark.parametrize(("state", "action", "expected"), TABLE)
def test_transition_table(
    state: IncidentState, action: IncidentAction, expected: IncidentState | type[Exception]
) -> None:
    incident = _incident(state)
    if isinstance(expected, IncidentState):
        updated, transition = apply_action(incident, action, "alice", T0, "done: extinguished")
        assert updated.state is expected
        assert updated.revision == incident.revision + 1
        assert (transition.actor, transition.at, transition.source, transition.target) == (
            "alice",
            T0,
            state,
            expected,
        )
        return
    with pytest.raises(expected) as caught:
        apply_action(incident, action, "alice", T0, "reason")
    assert isinstance(caught.value, InvalidTransitionError)
    assert caught.value.allowed == allowed_actions(state)
    assert state.value in str(caught.value)


def test_resolving_needs_a_resolution_and_stores_it() -> None:
    with pytest.raises(ResolutionRequiredError):
        apply_action(_incident(S.IN_PROGRESS), A.RESOLVE, "alice", T0, "   ")
    resolved, _ = apply_action(_incident(S.IN_PROGRESS), A.RESOLVE, "alice", T0, " false alarm ")
    assert resolved.resolution == "false alarm"
    reopened, _ = apply_action(resolved, A.REOPEN, "bob", T0)
    assert reopened.resolution is None


def test_acknowledging_takes_ownership_and_stops_escalation() -> None:
    acked, _ = apply_action(_incident(S.NEW), A.ACKNOWLEDGE, "alice", T0)
    assert acked.owner == "alice"
    assert acked.next_escalation_at is None


def test_an_unknown_action_is_an_invalid_transition() -> None:
    with pytest.raises(InvalidTransitionError, match="cannot explode"):
        apply_action(_incident(S.NEW), "explode", "alice", T0)
