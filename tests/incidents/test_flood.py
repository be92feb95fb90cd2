"""A misbehaving rule floods 10,000 alarms: one incident counts them all, the console API keeps answering."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi.testclient import TestClient

from tests.auth.support import fast_passwords, user_token
from tests.incidents.conftest import Published, add_inventory, build_service
from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.auth.models import RoleGrant
from watchkeeper.bus.local import LocalBus
from watchkeeper.config.incidents import IncidentsConfig
from watchkeeper.config.server import RateLimitConfig, ServerConfig
from watchkeeper.domain import CameraId, SiteId, utcnow
from watchkeeper.domain.incidents import AlarmSource
from watchkeeper.incidents.service import Alarm
from watchkeeper.storage.factory import open_store

ALARMS = 10_000
FLUSH_EVERY = 500
"""The feed's ticker flushes merged counts once a second; the flood thread does it every 500 alarms."""


def test_a_flood_of_alarms_is_one_incident_counting_all_while_the_api_answers(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'wk.db'}")
    add_inventory(store)
    published = Published()
    service = build_service(store, utcnow, published, IncidentsConfig(publish_interval_s=0.05))
    headers = {
        "Authorization": f"Bearer {user_token(store, 'op', RoleGrant('operator', frozenset({SiteId('a')})))}"
    }
    context = AppContext(
        store=store,
        bus=LocalBus(),
        media_root=tmp_path,
        statuses=StatusBoard([]),
        hub=LiveHub(),
        passwords=fast_passwords(),
        incidents=service,
    )
    client = TestClient(create_app(context, ServerConfig(rate_limits=RateLimitConfig(enabled=False))))
    done = threading.Event()
    failures: list[BaseException] = []

    def flood() -> None:
        try:
            for index in range(ALARMS):
                service.raise_alarm(
                    Alarm(
                        type_code="GATE_OPEN",
                        source=AlarmSource.ANALYTICS,
                        at=utcnow(),
                        camera_id=CameraId("a1"),
                        correlation_key="analytics:GATE_OPEN:gate-open:a1",
                    )
                )
                if index % FLUSH_EVERY == FLUSH_EVERY - 1:
                    service.flush()
        except BaseException as err:  # reported by the main thread
            failures.append(err)
        finally:
            done.set()

    thread = threading.Thread(target=flood, name="alarm-flood")
    thread.start()
    answers: list[int] = []
    while not done.is_set() or len(answers) < 3:
        response = client.get("/api/incidents", params={"camera_id": "a1"}, headers=headers)
        assert response.status_code == 200, response.text
        answers.append(response.json()["total"])
        created = client.post(  # an operator can still report something else meanwhile
            "/api/incidents",
            json={"type_code": "BREAK_IN", "camera_id": "a2", "note": "door forced"},
            headers=headers,
        )
        assert created.status_code == 201, created.text
    thread.join()
    assert failures == []
    service.flush(force=True)

    flooded = client.get(
        "/api/incidents", params={"camera_id": "a1", "type_code": "GATE_OPEN"}, headers=headers
    ).json()
    assert flooded["total"] == 1
    assert flooded["items"][0]["alarm_count"] == ALARMS
    assert set(answers) <= {0, 1}  # never more than the one incident for the flooding rule
    changes = published.changes(flooded["items"][0]["id"])
    assert changes[0] == "created"
    assert set(changes[1:]) == {"alarm"}
    assert len(changes) <= 1 + ALARMS // FLUSH_EVERY + 1  # rate-limited: one per flush, not per alarm
    store.close()
