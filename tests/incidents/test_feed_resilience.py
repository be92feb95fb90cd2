"""One alarm that the code cannot handle must not stop later alarms from being handled."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from watchkeeper.bus.local import LocalBus
from watchkeeper.bus.messages import EventMessage
from watchkeeper.domain import CameraId, Event, EventKind
from watchkeeper.incidents.feed import IncidentFeed


class _FlakySources:
    """Alarm sources whose first event hits a bug (fault injection; everything else is real)."""

    def __init__(self) -> None:
        self.handled: list[str] = []

    def on_event(self, event: Event, state: str) -> None:
        if not self.handled:
            self.handled.append("boom")
            raise RuntimeError("simulated bug in an alarm rule")
        self.handled.append(event.id)

    def on_camera_status(self, status: object) -> None:  # pragma: no cover - not used here
        raise AssertionError("unexpected")


class _Service:
    def flush(self, *, force: bool = False) -> int:
        return 0


def _event(event_id: str) -> EventMessage:
    event = Event(
        id=event_id,
        camera_id=CameraId("cam1"),
        kind=EventKind.ZONE,
        start=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
        end=None,
        score=0.9,
    )
    return EventMessage.from_domain(event, "started")


async def test_the_feed_survives_a_failing_alarm(caplog: pytest.LogCaptureFixture) -> None:
    bus = LocalBus()
    await bus.start()
    sources = _FlakySources()
    feed = IncidentFeed(bus, cast(Any, _Service()), cast(Any, sources), tick_s=3600)
    await feed.start()
    try:
        await bus.publish(_event("e1"))
        await bus.publish(_event("e2"))
        for _ in range(100):
            if "e2" in sources.handled:
                break
            await asyncio.sleep(0.02)
    finally:
        await feed.stop()
        await bus.close()
    assert sources.handled == ["boom", "e2"]
    assert "simulated bug in an alarm rule" in caplog.text
