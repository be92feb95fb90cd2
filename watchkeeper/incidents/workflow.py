"""The incident state machine: applies :data:`watchkeeper.domain.incidents.TRANSITIONS`."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from watchkeeper.domain.incidents import TRANSITIONS, Incident, IncidentAction, IncidentState, Transition
from watchkeeper.incidents.errors import InvalidTransitionError, ResolutionRequiredError


def allowed_actions(state: IncidentState) -> tuple[IncidentAction, ...]:
    """The actions allowed in ``state``, in declaration order."""
    return tuple(action for action in IncidentAction if action in TRANSITIONS[state])


def apply_action(
    incident: Incident, action: IncidentAction | str, actor: str, at: datetime, reason: str = ""
) -> tuple[Incident, Transition]:
    """Move ``incident`` by ``action`` done by ``actor`` at ``at``; returns the new head and its transition.

    The new head has its revision bumped; acknowledging (or any move out of ``new``) stops escalation;
    resolving stores ``reason`` as the resolution; reopening clears it; the first handler becomes the owner
    when the incident has none.

    Raises:
        InvalidTransitionError: If ``action`` is unknown or not allowed in the incident's state.
        ResolutionRequiredError: If resolving without a ``reason``.
    """
    allowed = allowed_actions(incident.state)
    try:
        chosen = IncidentAction(action)
    except ValueError as err:
        raise InvalidTransitionError(incident.id, incident.state, str(action), allowed) from err
    target = TRANSITIONS[incident.state].get(chosen)
    if target is None:
        raise InvalidTransitionError(incident.id, incident.state, chosen.value, allowed)
    if chosen is IncidentAction.RESOLVE and not reason.strip():
        raise ResolutionRequiredError(f"resolving incident {incident.id} needs a resolution")
    resolution = incident.resolution
    if chosen is IncidentAction.RESOLVE:
        resolution = reason.strip()
    elif chosen is IncidentAction.REOPEN:
        resolution = None
    updated = replace(
        incident,
        state=target,
        updated_at=max(at, incident.updated_at),
        resolution=resolution,
        owner=incident.owner or (actor if chosen in _TAKES_OWNERSHIP else None),
        revision=incident.revision + 1,
        next_escalation_at=None if target is not IncidentState.NEW else incident.next_escalation_at,
    )
    return updated, Transition(chosen, incident.state, target, actor, at, reason.strip())


_TAKES_OWNERSHIP = frozenset({IncidentAction.ACKNOWLEDGE, IncidentAction.START})
