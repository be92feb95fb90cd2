"""LocalBus specifics: the bounded log and what a slow subscriber gets, loop and thread rules."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime

import pytest

from watchkeeper.bus.errors import BusError
from watchkeeper.bus.local import LocalBus, LocalSubscription
from watchkeeper.bus.messages import BusMessage, CameraStatusMessage
from watchkeeper.domain import CameraId, CameraState

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def status(number: int, camera: str = "a") -> CameraStatusMessage:
    return CameraStatusMessage(
        camera_id=CameraId(camera), state=CameraState.STREAMING, since=T0, reason=str(number)
    )


def numbers(messages: list[BusMessage]) -> list[int]:
    return [int(message.reason) for message in messages if isinstance(message, CameraStatusMessage)]


async def drain(subscription: LocalSubscription, count: int) -> list[BusMessage]:
    got: list[BusMessage] = []
    async for message in subscription:
        got.append(message)
        if len(got) == count:
            break
    return got


@pytest.fixture
async def bus() -> LocalBus:
    bus = LocalBus(history_size=100)
    await bus.start()
    return bus


async def test_slow_subscriber_loses_the_oldest_and_never_blocks_the_publisher(
    bus: LocalBus, caplog: pytest.LogCaptureFixture
) -> None:
    slow = await bus.subscribe("wk.cameras.>")
    caplog.set_level(logging.WARNING)

    for number in range(250):  # would hang here if publish waited for the subscriber
        await bus.publish(status(number))

    got = await asyncio.wait_for(drain(slow, 100), 5)
    assert numbers(got) == list(range(150, 250))
    assert slow.dropped == 150
    assert "fell 100 messages behind" in caplog.text


async def test_messages_on_other_subjects_do_not_count_as_dropped(bus: LocalBus) -> None:
    quiet = await bus.subscribe("wk.cameras.b.status")
    await bus.publish(status(0, "b"))
    first = await asyncio.wait_for(drain(quiet, 1), 5)
    for number in range(1, 300):
        await bus.publish(status(number, "a"))
    await bus.publish(status(300, "b"))

    second = await asyncio.wait_for(drain(quiet, 1), 5)

    assert numbers(first + second) == [0, 300]
    assert quiet.dropped == 0


async def test_closed_durable_falling_behind_reports_drops_on_resume(bus: LocalBus) -> None:
    first = await bus.subscribe("wk.>", durable="late")
    await first.close()
    for number in range(130):
        await bus.publish(status(number))

    resumed = await bus.subscribe("wk.>", durable="late")

    assert numbers(await asyncio.wait_for(drain(resumed, 100), 5)) == list(range(30, 130))
    assert resumed.dropped == 30


async def test_memory_is_bounded_by_history_size(bus: LocalBus) -> None:
    for number in range(1000):
        await bus.publish(status(number))

    assert len(bus._history) == 100


async def test_bus_close_ends_every_iteration(bus: LocalBus) -> None:
    subs = [await bus.subscribe("wk.>"), await bus.subscribe("wk.>", durable="d")]
    waiters = [asyncio.create_task(drain(sub, 1)) for sub in subs]
    await asyncio.sleep(0.05)

    await bus.close()

    assert await asyncio.wait_for(asyncio.gather(*waiters), 5) == [[], []]
    with pytest.raises(BusError, match="not started"):
        await bus.publish(status(0))


async def test_publish_from_another_loop_is_refused(bus: LocalBus) -> None:
    errors: list[BaseException] = []

    def elsewhere() -> None:
        try:
            asyncio.run(bus.publish(status(0)))
        except BusError as err:
            errors.append(err)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    await asyncio.to_thread(thread.join, 5)

    assert len(errors) == 1
    assert "publish_threadsafe" in str(errors[0])


def test_history_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="history_size"):
        LocalBus(history_size=0)
