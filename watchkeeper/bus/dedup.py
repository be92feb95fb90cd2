"""Message ids derived from content, for JetStream de-duplication (``Nats-Msg-Id``).

A publisher that retries after a lost acknowledgement (or replays) sends the same id, and the stream stores
the message once within its duplicate window. Longer gaps rely on idempotent consumers (segment rows unique
by path, events upserted by id, incidents carrying a revision).

Camera statuses carry no id on purpose: the status repeater re-sends an unchanged status (same camera, state
and ``since``) every few seconds so that a node starting later learns it; an id would drop those repeats
for a whole window. A repeated status changes nothing for a consumer that already has it.
"""

from __future__ import annotations

import hashlib

from watchkeeper.bus.messages import (
    BreakGlassMessage,
    BusMessage,
    EventMessage,
    IncidentMessage,
    SegmentMessage,
    encode,
)

HEADER = "Nats-Msg-Id"


def message_id(message: BusMessage) -> str | None:
    """The de-duplication id of ``message`` (``None`` for camera statuses, see the module text)."""
    if isinstance(message, SegmentMessage):
        return f"seg.{message.camera_id}.{message.rendition.value}.{message.path}"
    if isinstance(message, EventMessage):
        # An event starts and ends once; its updates differ by content, so they are told apart by digest.
        base = f"evt.{message.id}.{message.event_state}"
        return f"{base}.{_digest(message)}" if message.event_state == "updated" else base
    if isinstance(message, IncidentMessage):
        return f"inc.{message.incident_id}.{message.revision}.{message.change}"
    if isinstance(message, BreakGlassMessage):
        return f"bg.{message.grant_id}"
    return None  # a camera status


def _digest(message: BusMessage) -> str:
    return hashlib.sha256(encode(message)).hexdigest()[:16]
