"""Alarm sources: analytics events, camera health, recording and storage become :class:`Alarm` values."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import datetime, timedelta

from watchkeeper.config.incidents import AnalyticsMappingConfig, IncidentsConfig
from watchkeeper.domain import CameraId, CameraStatus, Event, EventKind, WatchkeeperError
from watchkeeper.domain.incidents import AlarmSource, IncidentAction, IncidentState
from watchkeeper.incidents.auto_close import CameraHealthMonitor, LatestStatus, Recovery
from watchkeeper.incidents.equipment import FreeSpaceProbe, GapAlarm, RecordingGaps, StorageWatch
from watchkeeper.incidents.service import SYSTEM, Alarm, IncidentService
from watchkeeper.incidents.taxonomy import (
    CAMERA_OFFLINE,
    CAMERA_TAMPERED,
    RECORDING_GAP,
    STORAGE_FAILURE,
)

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
        """The alarm a newly started event raises, or ``None`` (tamper events: camera tampered by default)."""
        found = [mapping for mapping in self._mappings if _matches(mapping, event)]
        if not found:
            return _tamper_alarm(event) if event.kind is EventKind.TAMPER else None
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
    """Feeds analytics events, camera statuses, segments and free space into the service (thread-safe)."""

    def __init__(
        self,
        service: IncidentService,
        config: IncidentsConfig,
        storage: FreeSpaceProbe | None = None,
        latest: LatestStatus | None = None,
    ) -> None:
        """Raise alarms on ``service`` as ``config`` says; watch the free space of ``storage`` when given.

        ``latest`` gives the newest status of a camera from every status on the bus (an API node's status
        board): a camera-offline alarm is not raised when it says the camera streams again.
        """
        self._service = service
        self._analytics = AnalyticsAlarms(config.analytics)
        self._offline_grace = timedelta(seconds=config.camera_offline_grace_s)
        self._health = CameraHealthMonitor(self._offline_grace, latest)
        self._gaps = RecordingGaps(timedelta(seconds=config.recording_gap_s))
        self._storage = (
            StorageWatch(storage, config.storage_alarm_free_bytes) if storage is not None else None
        )
        self._lock = threading.Lock()

    def on_event(self, event: Event, event_state: str) -> None:
        """An analytics event started, changed or ended: a start raises an alarm, a tamper end clears one."""
        if event_state == "ended" and event.kind is EventKind.TAMPER:
            self._tamper_cleared(event)
            return
        if event_state != "started":
            return
        alarm = self._analytics.alarm_for(event)
        if alarm is not None:
            self._service.raise_alarm(replace(alarm, received_at=self._service.now()))

    def on_camera_status(self, status: CameraStatus) -> None:
        """A camera's state changed: when it streams again, auto-close its open camera-offline incident.

        The incident is looked up in the store, so it closes whichever node raised it.
        """
        with self._lock:
            recovered = self._health.observe(status)
            self._gaps.status(status)
        if recovered is not Recovery.NONE:
            reason = f"camera streaming again since {status.since.isoformat()}"
            since = status.since if recovered is Recovery.NEW_PERIOD else None
            self.auto_close(_offline_key(status.camera_id), CAMERA_OFFLINE, reason, since)

    def on_segment(self, camera_id: CameraId, start: datetime, end: datetime) -> None:
        """A segment was indexed: a live recording gap clears, a gap found after the fact raises."""
        with self._lock:
            outcome = self._gaps.segment(camera_id, start, end, self._service.now())
        if outcome.cleared:
            self.auto_close(
                _gap_key(camera_id), RECORDING_GAP, f"recording again: a segment from {start.isoformat()}"
            )
        if outcome.gap is not None:
            self._raise_gap(outcome.gap)

    def check_cameras(self) -> int:
        """Raise camera-offline and live recording-gap alarms that are due; returns how many."""
        now = self._service.now()
        with self._lock:
            down = self._health.due(now)
            gaps = self._gaps.due(now)
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
        for gap in gaps:
            self._raise_gap(gap)
        return len(down) + len(gaps)

    def check_storage(self) -> bool:
        """Read the media volume's free space: raise a storage alarm or close it; true when one was raised."""
        if self._storage is None:
            return False
        with self._lock:
            reading = self._storage.check()
        key = f"equipment:{STORAGE_FAILURE}:media"
        if reading.cleared:
            self.auto_close(key, STORAGE_FAILURE, f"free space on {self._storage.where} is back")
        if reading.alarm is None:
            return False
        log.error("storage alarm: %s", reading.alarm)
        self._service.raise_alarm(
            Alarm(
                type_code=STORAGE_FAILURE,
                source=AlarmSource.EQUIPMENT,
                at=self._service.now(),
                correlation_key=key,
                title="Media storage full or unreadable",
                note=reading.alarm,
            )
        )
        return True

    def _raise_gap(self, gap: GapAlarm) -> None:
        self._service.raise_alarm(
            Alarm(
                type_code=RECORDING_GAP,
                source=AlarmSource.EQUIPMENT,
                at=self._service.now(),
                camera_id=gap.camera_id,
                correlation_key=_gap_key(gap.camera_id),
                title=f"Recording gap on camera {gap.camera_id}",
                note=gap.describe(),
            )
        )

    def _tamper_cleared(self, event: Event) -> None:
        key = _tamper_key(event.camera_id)
        what = event.label or event.rule or "tamper condition"
        reason = f"{what} cleared at {(event.end or event.start).isoformat()}"
        if self._service.taxonomy.get(CAMERA_TAMPERED).auto_close:
            self.auto_close(key, CAMERA_TAMPERED, reason)
            return
        incident = self._service.open_by_key(key)
        if incident is not None:
            self._service.add_note(incident.id, SYSTEM, reason)

    def auto_close(
        self, correlation_key: str, type_code: str, reason: str, streaming_since: datetime | None = None
    ) -> None:
        """Resolve and close the open incident of ``correlation_key`` when its type auto-closes.

        ``streaming_since``: a camera-offline incident closes only for a streaming period that began after
        the camera went down (at the latest its grace before the incident was raised), never for a late
        status of the period before the outage.
        """
        if not self._service.taxonomy.get(type_code).auto_close:
            return
        incident = self._service.open_by_key(correlation_key)
        if incident is None:
            return
        if streaming_since is not None and streaming_since <= incident.created_at - self._offline_grace:
            log.info("incident %s stays open: streaming since %s is older", incident.id, streaming_since)
            return
        try:
            if incident.state is not IncidentState.RESOLVED:
                self._service.transition(incident.id, IncidentAction.RESOLVE, SYSTEM, reason)
            self._service.transition(
                incident.id, IncidentAction.CLOSE, SYSTEM, "auto-closed: the alarm cleared"
            )
        except WatchkeeperError as err:
            log.warning("could not auto-close incident %s: %s", incident.id, err)


def _tamper_alarm(event: Event) -> Alarm:
    what = event.label or event.rule or "tamper condition"
    return Alarm(
        type_code=CAMERA_TAMPERED,
        source=AlarmSource.EQUIPMENT,
        at=event.start,
        camera_id=event.camera_id,
        correlation_key=_tamper_key(event.camera_id),
        title=f"Camera {event.camera_id} tampered: {what}",
        note=f"{what} since {event.start.isoformat()}",
        event_id=event.id,
    )


def _tamper_key(camera_id: str) -> str:
    return f"equipment:{CAMERA_TAMPERED}:{camera_id}"


def _gap_key(camera_id: str) -> str:
    return f"equipment:{RECORDING_GAP}:{camera_id}"


def _offline_key(camera_id: str) -> str:
    return f"equipment:{CAMERA_OFFLINE}:{camera_id}"
