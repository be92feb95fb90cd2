"""Outbound integrations: webhook deliveries (with their dead letters) and the incident change journal.

Pure types only; the SQL repositories and the dispatchers convert to and from them.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class DeliveryState(StrEnum):
    """Where one webhook delivery stands."""

    PENDING = "pending"
    """Waiting for its (next) attempt."""
    DELIVERED = "delivered"
    """The receiver answered 2xx."""
    DEAD = "dead"
    """Every attempt failed: a dead letter, retried only by an administrator."""


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One message to one configured webhook, with its attempts so far.

    Attributes:
        webhook: Name of the webhook in the configuration.
        event: What happened, for example ``incident.created`` or ``camera.status``.
        subject_id: The incident id (or camera id) the event is about.
        payload: The JSON body that is signed and sent.
        created_at: When the delivery was queued.
        next_attempt_at: When it is due next (for a pending delivery).
        state: Pending, delivered or dead.
        attempts: Attempts made so far.
        last_error: Why the last attempt failed (empty when none failed).
        last_status: HTTP status of the last answer (``None`` when there was none).
        updated_at: When the delivery last changed.
        id: Database id (``None`` before it is stored).
    """

    webhook: str
    event: str
    subject_id: str
    payload: str
    created_at: datetime
    next_attempt_at: datetime
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    last_error: str = ""
    last_status: int | None = None
    updated_at: datetime | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if self.attempts < 0:
            raise ValueError(f"attempts must not be negative, got {self.attempts}")


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    """One page of deliveries, newest first, and how many match in all."""

    items: tuple[WebhookDelivery, ...]
    total: int


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One incident change as it was announced, in the order the journal received it.

    Attributes:
        incident_id: The incident.
        revision: Its revision after the change (one entry per incident and revision).
        payload: The announced bus message (JSON).
        at: When the journal received it.
        seq: Position in the journal, the cursor consoles resume from (``None`` before it is stored).
    """

    incident_id: str
    revision: int
    payload: str
    at: datetime
    seq: int | None = None
