"""WebSocket messages about incidents, and the replay cursor a reconnecting console resumes from."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from watchkeeper.bus.messages import IncidentChange, IncidentMessage
from watchkeeper.domain.incidents import AlarmSource, IncidentCategory, IncidentState, Priority


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class WsIncidentHead(_Out):
    """The head of an incident as it was after the change."""

    id: str
    revision: int
    type_code: str
    category: IncidentCategory
    title: str
    state: IncidentState
    priority: Priority
    source: AlarmSource
    site_id: str | None
    camera_ids: list[str]
    lat: float | None
    lon: float | None
    owner: str | None
    assignee_user: str | None
    assignee_team: str | None
    alarm_count: int
    escalation_level: int
    created_at: datetime
    updated_at: datetime


class WsIncident(_Out):
    """WebSocket message: an incident was opened or changed.

    ``cursor`` orders every incident change; a console that reconnects with ``/api/ws?since=<cursor>`` gets
    the changes it missed (those it may see) before live ones.
    """

    type: Literal["incident"] = "incident"
    cursor: int
    change: IncidentChange
    actor: str | None
    escalated_to: str | None
    incident: WsIncidentHead

    @classmethod
    def of(cls, message: IncidentMessage, cursor: int) -> WsIncident:
        """The push of ``message`` journalled at ``cursor``."""
        head = WsIncidentHead(
            id=message.incident_id,
            revision=message.revision,
            type_code=message.type_code,
            category=message.category,
            title=message.title,
            state=message.state,
            priority=message.priority,
            source=message.source,
            site_id=message.site_id,
            camera_ids=list(message.camera_ids),
            lat=message.lat,
            lon=message.lon,
            owner=message.owner,
            assignee_user=message.assignee_user,
            assignee_team=message.assignee_team,
            alarm_count=message.alarm_count,
            escalation_level=message.escalation_level,
            created_at=message.created_at,
            updated_at=message.updated_at,
        )
        return cls(
            cursor=cursor,
            change=message.change,
            actor=message.actor,
            escalated_to=message.escalated_to,
            incident=head,
        )


class WsCursor(_Out):
    """WebSocket message: the replay is done; ``cursor`` is the newest incident change there is.

    ``resync`` is true when more changes were missed than a replay carries (or they were pruned): reload
    the incident list over HTTP, then carry on from ``cursor``.
    """

    type: Literal["cursor"] = "cursor"
    cursor: int
    replayed: int
    resync: bool = False
