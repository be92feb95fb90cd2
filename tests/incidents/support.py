"""Helpers for tests of other areas that need the incident service (the authorization matrix, e2e)."""

from __future__ import annotations

from datetime import datetime

from watchkeeper.bus.messages import IncidentMessage
from watchkeeper.config.incidents import IncidentsConfig
from watchkeeper.domain import CameraId
from watchkeeper.domain.incidents import AlarmSource
from watchkeeper.incidents.service import Alarm, IncidentDeps, IncidentService
from watchkeeper.incidents.taxonomy import Taxonomy
from watchkeeper.storage.protocols import Store


def _drop(message: IncidentMessage) -> None:
    """Publishes nowhere."""


def incident_service(store: Store, now: datetime, config: IncidentsConfig | None = None) -> IncidentService:
    """An incident service over ``store`` whose clock stands at ``now`` and that publishes nowhere."""
    section = config or IncidentsConfig()
    deps = IncidentDeps(incidents=store.incidents, cameras=store.cameras, publish=_drop, clock=lambda: now)
    return IncidentService(deps, Taxonomy.from_config(section), section)


def seed_incident(service: IncidentService, camera_id: str) -> str:
    """Open a gate-open incident on ``camera_id``; returns its id."""
    alarm = Alarm(
        type_code="GATE_OPEN", source=AlarmSource.OPERATOR, at=service.now(), camera_id=CameraId(camera_id)
    )
    return service.raise_alarm(alarm).incident_id
