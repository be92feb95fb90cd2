"""Alarm sources: analytics events and camera health become :class:`Alarm` values for the service."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from watchkeeper.config.incidents import AnalyticsMappingConfig, IncidentsConfig
from watchkeeper.domain import CameraStatus, Event, EventKind, WatchkeeperError
from watchkeeper.domain.incidents import AlarmSource, IncidentAction, IncidentState
from watchkeeper.incidents.auto_close import CameraHealthMonitor
from watchkeeper.incidents.service import SYSTEM, Alarm, IncidentService
from watchkeeper.incidents.taxonomy import CAMERA_OFFLINE

log = logging.getLogger(__name__)


def _matches(mapping: AnalyticsMappingConfig, event: Event) -> bool:
    if mapping.kind is None and event.kind is EventKind.MOTION:
        return False
    wanted = (
        (mapping.kind, event.kind),
        (mapping.camera, event.camera_id),
        (mapping.rule, event.rule),
        (mapping.zone, event.zone),
        (mapping.label, event.label or event.object_class),
    )
    return all(want is None or want == got for want, got in wanted)


def _specificity(mapping: AnalyticsMappingConfig) -> int:
    return sum(
        value is not None
        for value in (mapping.kind, mapping.camera, mapping.rule, mapping.zone, mapping.label)
    )


class AnalyticsAlarms:
    """Maps analytics events to incident types through ``incidents.analytics`` (unmapped events: nothing)."""

    def __init__(self, mappings: list[AnalyticsMappingConfig]) -> None:
        """Use ``mappings`` (most specific match wins, first on a tie)."""
        self._mappings = mappings

    def alarm_for(self, event: Event) -> Alarm | None:
        """The alarm a newly started event raises, or ``None``."""
        found = [mapping for mapping in self._mappings if _matches(mapping, event)]
        if not found:
            return None
        best = max(found, key=_specificity)
        trigger = event.rule or event.zone or event.label or event.kind.value
        return Alarm(
            type_code=best.type,
            source=AlarmSource.ANALYTICS,
            at=event.start,
            camera_id=event.camera_id,
            correlation_key=f"analytics:{best.type}:{trigger}:{event.camera_id}",
            event_id=event.id,
        )


class AlarmSources:
    """Feeds analytics events and camera statuses into the service (thread-safe)."""

    def __init__(self, service: IncidentService, config: IncidentsConfig) -> None:
        """Raise alarms on ``service`` as ``config`` says."""
        self._service = service
        self._analytics = AnalyticsAlarms(config.analytics)
        self._health = CameraHealthMonitor(timedelta(seconds=config.camera_offline_grace_s))
        self._lock = threading.Lock()

    def on_event(self, event: Event, event_state: str) -> None:
        """An analytics event started, changed or ended: only a start raises an alarm."""
        if event_state != "started":
            return
        alarm = self._analytics.alarm_for(event)
        if alarm is not None:
            self._service.raise_alarm(alarm)

    def on_camera_status(self, status: CameraStatus) -> None:
        """A camera's state changed: when it streams again after an alarm, auto-close the incident."""
        with self._lock:
            recovered = self._health.observe(status)
        if recovered:
            self.auto_close(status)

    def check_cameras(self) -> int:
        """Raise camera-offline alarms for cameras down past the grace period; returns how many."""
        now = self._service.now()
        with self._lock:
            down = self._health.due(now)
        for item in down:
            self._service.raise_alarm(
                Alarm(
                    type_code=CAMERA_OFFLINE,
                    source=AlarmSource.EQUIPMENT,
                    at=now,
                    camera_id=item.camera_id,
                    correlation_key=_offline_key(item.camera_id),
                    title=f"Camera {item.camera_id} offline",
                    note=f"down since {item.since.isoformat()}: {item.reason or 'no reason given'}",
                )
            )
        return len(down)

    def auto_close(self, status: CameraStatus) -> None:
        """Resolve and close the open camera-offline incident of a camera that streams again."""
        kind = self._service.taxonomy.get(CAMERA_OFFLINE)
        if not kind.auto_close:
            return
        incident = self._service.open_by_key(_offline_key(status.camera_id))
        if incident is None:
            return
        try:
            if incident.state is not IncidentState.RESOLVED:
                reason = f"camera streaming again since {status.since.isoformat()}"
                self._service.transition(incident.id, IncidentAction.RESOLVE, SYSTEM, reason)
            self._service.transition(
                incident.id, IncidentAction.CLOSE, SYSTEM, "auto-closed: the alarm cleared"
            )
        except WatchkeeperError as err:
            log.warning("could not auto-close incident %s: %s", incident.id, err)


def _offline_key(camera_id: str) -> str:
    return f"equipment:{CAMERA_OFFLINE}:{camera_id}"
