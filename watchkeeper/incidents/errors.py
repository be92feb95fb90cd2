"""Errors of the incident stage, with stable codes the API maps to typed responses."""

from __future__ import annotations

from collections.abc import Iterable

from watchkeeper.domain import ConflictError, NotFoundError, WatchkeeperError
from watchkeeper.domain.incidents import IncidentAction, IncidentState


class InvalidTransitionError(ConflictError):
    """An action that the incident's current state does not allow (HTTP 409 with the allowed actions)."""

    code = "invalid_transition"

    def __init__(
        self, incident_id: str, state: IncidentState, action: str, allowed: Iterable[IncidentAction]
    ) -> None:
        """Describe the refused ``action`` on an incident in ``state`` and what ``allowed`` would work."""
        self.incident_id = incident_id
        self.state = state
        self.action = action
        self.allowed = tuple(allowed)
        options = ", ".join(item.value for item in self.allowed) or "none"
        super().__init__(
            f"cannot {action} incident {incident_id} while it is {state.value} (allowed: {options})"
        )


class IncidentInputError(WatchkeeperError):
    """A request about an incident is incomplete or inconsistent (HTTP 422)."""

    code = "invalid_incident_request"


class ResolutionRequiredError(IncidentInputError):
    """Resolving needs a resolution text."""

    code = "resolution_required"


class UnknownIncidentTypeError(IncidentInputError):
    """The incident type code is not in the taxonomy."""

    code = "unknown_incident_type"


class IncidentNotFoundError(NotFoundError):
    """No incident with that id (or the caller may not see it)."""

    code = "incident_not_found"


class TaxonomyError(WatchkeeperError):
    """The configured taxonomy or alarm mappings are inconsistent (unknown type code, red-line breach)."""

    code = "incident_taxonomy"


class InboundAuthError(WatchkeeperError):
    """An inbound alarm's source, signature or timestamp is not acceptable (HTTP 401)."""

    code = "inbound_signature"


class IdempotencyConflictError(ConflictError):
    """An idempotency key was reused with a different body (HTTP 409)."""

    code = "idempotency_key_reused"


class CallerKeyError(WatchkeeperError):
    """The key file for phone-in caller details cannot be created, read or used."""

    code = "caller_key"
