"""Equipment alarms from a real simulated camera: stalled past the grace period -> incident -> auto-closed."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.conftest import wait_for
from tests.incidents.conftest import Published, build_service, camera_worker
from watchkeeper.config.incidents import IncidentsConfig
from watchkeeper.domain import CameraState, CameraStatus, utcnow
from watchkeeper.domain.incidents import AlarmSource, Incident, IncidentAction, IncidentQuery, IncidentState
from watchkeeper.incidents.sources import AlarmSources
from watchkeeper.simulator import RtspServer
from watchkeeper.storage.protocols import Store


def test_a_camera_down_past_the_grace_period_opens_an_incident_closed_when_it_streams_again(
    own_camera: RtspServer, store: Store, tmp_path: Path
) -> None:
    published = Published()
    service = build_service(store, utcnow, published, IncidentsConfig(camera_offline_grace_s=1))
    sources = AlarmSources(service, service.config)
    states: list[CameraState] = []
    lock = threading.Lock()

    def on_status(status: CameraStatus) -> None:
        with lock:
            states.append(status.state)
        sources.on_camera_status(status)

    def ignore(_: object) -> None:
        return None

    worker = camera_worker(own_camera.url("/cam1"), tmp_path, on_status, ignore)

    def incidents() -> list[Incident]:
        return list(service.list(IncidentQuery(type_codes=frozenset({"CAMERA_OFFLINE"}))).items)

    worker.start()
    try:
        wait_for(lambda: CameraState.STREAMING in states, timeout=20, what="streaming")
        assert sources.check_cameras() == 0
        own_camera.stall("/cam1")
        wait_for(
            lambda: states[-1] in (CameraState.STALLED, CameraState.OFFLINE), timeout=20, what="camera down"
        )
        wait_for(lambda: sources.check_cameras() == 1, timeout=10, what="camera-offline alarm")
        assert sources.check_cameras() == 0  # one alarm per outage
        (incident,) = incidents()
        assert incident.source is AlarmSource.EQUIPMENT
        assert incident.camera_ids == ("a1",)
        assert incident.state is IncidentState.NEW

        own_camera.resume("/cam1")
        wait_for(
            lambda: service.get(incident.id).state is IncidentState.CLOSED,
            timeout=30,
            what="auto-close",
        )
    finally:
        worker.stop()
    detail = service.detail(incident.id)
    assert [(t.action, t.actor) for t in detail.transitions] == [
        (IncidentAction.RESOLVE, "system"),
        (IncidentAction.CLOSE, "system"),
    ]
    assert "streaming again" in (detail.incident.resolution or "")
    assert published.changes(detail.incident.id) == ["created", "transition", "transition"]
