"""Camera-offline alarms with several API nodes: the shared durable status consumer gives each status to one
node, so the node that saw a camera go down may not be the one that sees it stream again. Two nodes here
are two alarm sources with their own incident services over one store (both backends), each with a status
board that every status reaches (as every API node's board does); the statuses are split between them the
way the shared consumer may split them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tests.incidents.conftest import T0, Clock, Published, build_service
from watchkeeper.api.live import StatusBoard
from watchkeeper.config.incidents import IncidentsConfig
from watchkeeper.domain import CameraId, CameraState, CameraStatus
from watchkeeper.domain.incidents import Incident, IncidentQuery, IncidentState
from watchkeeper.incidents.service import IncidentService
from watchkeeper.incidents.sources import AlarmSources
from watchkeeper.storage.protocols import Store

CAM = CameraId("a1")
GRACE_S = 30


@dataclass
class Node:
    service: IncidentService
    sources: AlarmSources
    board: StatusBoard


def _nodes(store: Store, clock: Clock) -> tuple[Node, Node]:
    config = IncidentsConfig(camera_offline_grace_s=GRACE_S)
    made = []
    for _ in range(2):
        service = build_service(store, clock, Published(), config)
        board = StatusBoard([CAM])
        made.append(Node(service, AlarmSources(service, config, latest=board.get), board))
    return made[0], made[1]


def _status(state: CameraState, at_s: float) -> CameraStatus:
    return CameraStatus(
        CAM, state, T0 + timedelta(seconds=at_s), "" if state is CameraState.STREAMING else "eof"
    )


def _deliver(status: CameraStatus, to: Node, nodes: tuple[Node, Node]) -> None:
    """Every board sees every status; only ``to`` gets it from the shared durable consumer."""
    for node in nodes:
        node.board.update(status)
    to.sources.on_camera_status(status)


def _offline_incidents(node: Node) -> list[Incident]:
    return list(node.service.list(IncidentQuery(type_codes=frozenset({"CAMERA_OFFLINE"}))).items)


def test_the_node_that_sees_streaming_closes_the_incident_another_node_raised(any_store: Store) -> None:
    clock = Clock(T0)
    a, b = nodes = _nodes(any_store, clock)
    _deliver(_status(CameraState.STREAMING, 0), a, nodes)
    _deliver(_status(CameraState.OFFLINE, 10), a, nodes)
    clock.advance(10 + GRACE_S + 1)
    assert a.sources.check_cameras() == 1
    assert b.sources.check_cameras() == 0  # b never saw it go down
    (incident,) = _offline_incidents(b)
    _deliver(_status(CameraState.STREAMING, 60), b, nodes)
    closed = b.service.get(incident.id)
    assert closed.state is IncidentState.CLOSED
    # The raising node learns it from a repeat later and has nothing left to close.
    _deliver(_status(CameraState.STREAMING, 60), a, nodes)
    assert a.service.get(incident.id).state is IncidentState.CLOSED


def test_no_alarm_when_another_node_saw_the_camera_stream_again_within_the_grace(any_store: Store) -> None:
    clock = Clock(T0)
    a, b = nodes = _nodes(any_store, clock)
    _deliver(_status(CameraState.OFFLINE, 0), a, nodes)
    clock.advance(5)
    _deliver(_status(CameraState.STREAMING, 5), b, nodes)
    clock.advance(GRACE_S)
    assert a.sources.check_cameras() == 0
    assert _offline_incidents(a) == []
    # It goes down again for good: that outage is still raised.
    _deliver(_status(CameraState.OFFLINE, 40), a, nodes)
    clock.advance(GRACE_S + 10)
    assert a.sources.check_cameras() == 1


def test_a_late_status_of_the_period_before_the_outage_closes_nothing(any_store: Store) -> None:
    clock = Clock(T0)
    a, b = nodes = _nodes(any_store, clock)
    _deliver(_status(CameraState.OFFLINE, 0), a, nodes)
    clock.advance(GRACE_S + 1)
    assert a.sources.check_cameras() == 1
    (incident,) = _offline_incidents(a)
    b.sources.on_camera_status(_status(CameraState.STREAMING, -100))  # redelivered from before the outage
    assert b.service.get(incident.id).state is IncidentState.NEW
    b.sources.on_camera_status(_status(CameraState.STREAMING, -100))  # its repeat looks nothing up
    _deliver(_status(CameraState.STREAMING, GRACE_S + 5), b, nodes)
    assert b.service.get(incident.id).state is IncidentState.CLOSED
