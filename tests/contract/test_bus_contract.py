"""One behaviour suite for every bus backend: the in-process ``LocalBus`` and ``NatsBus`` on real JetStream.

Every NATS case uses its own stream and subject prefix (``wk<hex>``) and deletes the stream afterwards.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import nats
import pytest

from tests.support.services import require_service
from watchkeeper.bus.errors import BusError, BusUnavailableError, MessageFormatError
from watchkeeper.bus.local import LocalBus
from watchkeeper.bus.messages import (
    BusMessage,
    CameraStatusMessage,
    EventMessage,
    SegmentMessage,
    decode,
)
from watchkeeper.bus.nats import NatsBus, NatsTuning
from watchkeeper.bus.protocol import Bus, Subscription
from watchkeeper.domain import CameraId, CameraState, Event, EventKind

NATS_HOST, NATS_PORT = "127.0.0.1", 4222
NATS_URL = f"nats://{NATS_HOST}:{NATS_PORT}"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
FAST = NatsTuning(fetch_timeout_s=0.5)


@dataclass
class Backend:
    """A bus backend under test; ``reopen`` gives a fresh instance over the same storage (a restart)."""

    kind: str
    stream: str = ""
    prefix: str = ""
    buses: list[Bus] = field(default_factory=list)

    async def open(self) -> Bus:
        bus: Bus
        if self.kind == "local":
            bus = self.buses[0] if self.buses else LocalBus()
        else:
            bus = NatsBus(NATS_URL, stream=self.stream, subject_prefix=self.prefix, tuning=FAST)
        await bus.start()
        self.buses.append(bus)
        return bus


@pytest.fixture(params=["local", "nats"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    kind = str(request.param)
    if kind == "nats":
        require_service("NATS", NATS_HOST, NATS_PORT)
    tag = uuid.uuid4().hex[:12]
    backend = Backend(kind, stream=f"WKTEST_{tag}", prefix=f"wk{tag}")
    yield backend
    for bus in backend.buses:
        await bus.close()
    if kind == "nats":
        cleaner = NatsBus(NATS_URL, stream=backend.stream, subject_prefix=backend.prefix)
        await cleaner.start()
        await cleaner.delete_stream()
        await cleaner.close()


@pytest.fixture
async def bus(backend: Backend) -> Bus:
    return await backend.open()


def status(camera: str, reason: str = "", state: CameraState = CameraState.STREAMING) -> CameraStatusMessage:
    return CameraStatusMessage(camera_id=CameraId(camera), state=state, since=T0, reason=reason)


def event(camera: str, number: int = 0) -> EventMessage:
    domain = Event(f"ev-{number}", CameraId(camera), EventKind.MOTION, T0, None, 0.5, "person")
    return EventMessage.from_domain(domain, "started")


def segment(camera: str) -> SegmentMessage:
    end = T0 + timedelta(seconds=10)
    return SegmentMessage(
        segment_id=7, camera_id=CameraId(camera), start=T0, end=end, path="a/b.mp4", size_bytes=9
    )


async def take(subscription: Subscription, count: int, timeout: float = 10.0) -> list[BusMessage]:
    """The next ``count`` messages, failing if they do not arrive in ``timeout`` seconds."""

    async def collect() -> list[BusMessage]:
        got: list[BusMessage] = []
        async for message in subscription:
            got.append(message)
            if len(got) == count:
                break
        return got

    return await asyncio.wait_for(collect(), timeout)


async def nothing_more(subscription: Subscription, wait: float = 0.7) -> None:
    """No further message arrives within ``wait`` seconds (ephemeral subscriptions only)."""
    with pytest.raises(TimeoutError):
        await take(subscription, 1, timeout=wait)


def reasons(messages: list[BusMessage]) -> list[str]:
    return [message.reason for message in messages if isinstance(message, CameraStatusMessage)]


async def test_round_trip_keeps_type_and_fields(bus: Bus) -> None:
    sub = await bus.subscribe("wk.>")
    sent: list[BusMessage] = [status("cam-1", "up"), event("cam-1"), segment("cam-1")]
    for message in sent:
        await bus.publish(message)

    got = await take(sub, 3)

    assert got == sent
    assert [type(message) for message in got] == [CameraStatusMessage, EventMessage, SegmentMessage]
    assert isinstance(got[1], EventMessage)
    assert got[1].to_domain() == event("cam-1").to_domain()


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("wk.cameras.*.status", ["cameras.a", "cameras.b"]),
        ("wk.cameras.a.status", ["cameras.a"]),
        ("wk.events.*", ["events.a"]),
        ("wk.*.a", ["events.a", "segments.a"]),
        ("wk.>", ["cameras.a", "events.a", "segments.a", "cameras.b"]),
    ],
)
async def test_wildcards_select_subjects(bus: Bus, pattern: str, expected: list[str]) -> None:
    sub = await bus.subscribe(pattern)
    for message in (status("a"), event("a"), segment("a"), status("b")):
        await bus.publish(message)

    got = await take(sub, len(expected))

    assert [message.subject.removeprefix("wk.").removesuffix(".status") for message in got] == expected
    await nothing_more(sub)


async def test_order_per_subject_survives_a_burst(bus: Bus) -> None:
    sub_a = await bus.subscribe("wk.cameras.a.status")
    sub_all = await bus.subscribe("wk.cameras.*.status")
    for number in range(500):
        await bus.publish(status("a" if number % 2 == 0 else "b", str(number)))

    got_a, got_all = await asyncio.gather(take(sub_a, 250), take(sub_all, 500))

    assert reasons(got_a) == [str(number) for number in range(0, 500, 2)]
    all_reasons = reasons(got_all)
    assert [r for r in all_reasons if int(r) % 2 == 1] == [str(number) for number in range(1, 500, 2)]
    assert sorted(all_reasons, key=int) == [str(number) for number in range(500)]


async def test_plain_subscription_sees_only_new_messages(bus: Bus) -> None:
    await bus.publish(status("a", "before"))
    sub = await bus.subscribe("wk.cameras.>")
    await bus.publish(status("a", "after"))

    assert reasons(await take(sub, 1)) == ["after"]
    await nothing_more(sub)


async def test_durable_resumes_without_loss_or_duplicates(bus: Bus) -> None:
    first = await bus.subscribe("wk.cameras.>", durable="board")
    for number in range(10):
        await bus.publish(status("a", str(number)))
    head = await take(first, 4)
    await first.close()
    for number in range(10, 15):
        await bus.publish(status("a", str(number)))

    second = await bus.subscribe("wk.cameras.>", durable="board")
    tail = await take(second, 11)
    await second.close()

    assert reasons(head + tail) == [str(number) for number in range(15)]


async def test_durable_survives_a_restart(backend: Backend) -> None:
    bus = await backend.open()
    first = await bus.subscribe("wk.events.>", durable="indexer")
    for number in range(6):
        await bus.publish(event("a", number))
    head = await take(first, 3)
    await bus.close()

    restarted = await backend.open()
    await restarted.publish(event("a", 6))
    tail = await take(await restarted.subscribe("wk.events.>", durable="indexer"), 4)

    ids = [message.id for message in head + tail if isinstance(message, EventMessage)]
    assert ids == [f"ev-{number}" for number in range(7)]


async def test_two_subscriptions_of_one_durable_share_its_messages(bus: Bus) -> None:
    first = await bus.subscribe("wk.cameras.>", durable="workers")
    second = await bus.subscribe("wk.cameras.>", durable="workers")
    for number in range(20):
        await bus.publish(status("a", str(number)))

    got: list[BusMessage] = []

    async def drain(sub: Subscription) -> None:
        async for message in sub:
            got.append(message)
            if len(got) >= 20:
                break

    tasks = [asyncio.create_task(drain(first)), asyncio.create_task(drain(second))]
    deadline = time.monotonic() + 10
    while len(got) < 20 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    assert sorted(reasons(got), key=int) == [str(number) for number in range(20)]


async def test_durable_name_is_bound_to_its_subject(bus: Bus) -> None:
    sub = await bus.subscribe("wk.events.>", durable="bound")
    await sub.close()

    with pytest.raises(BusError, match="bound to"):
        await bus.subscribe("wk.cameras.>", durable="bound")


@pytest.mark.parametrize("subject", ["events.>", "wk.>.x", "wk..a", "wk.a b", ""])
async def test_malformed_subject_is_refused(bus: Bus, subject: str) -> None:
    with pytest.raises(BusError, match="subject"):
        await bus.subscribe(subject)


async def test_publish_from_a_worker_thread(bus: Bus) -> None:
    sub = await bus.subscribe("wk.cameras.>")
    outcomes: list[object] = []

    def worker() -> None:
        futures = [bus.publish_threadsafe(status("t", str(number))) for number in range(5)]
        outcomes.extend(future.result(timeout=5) for future in futures)

    thread = threading.Thread(target=worker)
    thread.start()
    got = await take(sub, 5)
    await asyncio.to_thread(thread.join, 5)

    assert reasons(got) == [str(number) for number in range(5)]
    assert outcomes == [None] * 5


async def test_closing_a_subscription_ends_its_iteration(bus: Bus) -> None:
    sub = await bus.subscribe("wk.cameras.>")
    waiter = asyncio.create_task(take(sub, 1))
    await asyncio.sleep(0.1)
    await sub.close()

    assert await asyncio.wait_for(waiter, 5) == []


async def test_unstarted_bus_refuses_to_publish(backend: Backend) -> None:
    bus: Bus = LocalBus() if backend.kind == "local" else NatsBus(NATS_URL, stream=backend.stream)

    with pytest.raises(BusError, match="not started"):
        await bus.publish(status("a"))
    with pytest.raises(BusError, match="not running"):
        bus.publish_threadsafe(status("a"))


# Wire-level behaviour: only NATS has bytes on the wire that another version of Watchkeeper may write.


@pytest.fixture
async def nats_bus(backend: Backend) -> NatsBus:
    if backend.kind != "nats":
        pytest.skip("wire-level case: NATS only")
    bus = await backend.open()
    assert isinstance(bus, NatsBus)
    return bus


async def raw_publish(backend: Backend, subject: str, payload: bytes) -> None:
    client = await nats.connect(NATS_URL)
    try:
        await client.jetstream().publish(backend.prefix + subject.removeprefix("wk"), payload)
    finally:
        await client.close()


async def test_v1_event_from_an_older_publisher_arrives_upgraded(nats_bus: NatsBus, backend: Backend) -> None:
    sub = await nats_bus.subscribe("wk.events.>")
    v1 = {"type": "event", "version": 1, "id": "old", "camera_id": "a", "kind": "motion"}
    v1 |= {"start": "2024-05-01T12:00:00Z", "end": "2024-05-01T12:00:05Z", "score": 0.25}
    await raw_publish(backend, "wk.events.a", json.dumps(v1).encode())
    await nats_bus.publish(event("a", 1))

    old, new = await take(sub, 2)

    assert isinstance(old, EventMessage)
    assert (old.version, old.event_state, old.label, old.end) == (2, "ended", "", T0 + timedelta(seconds=5))
    assert isinstance(new, EventMessage)
    assert new.id == "ev-1"


async def test_unreadable_bytes_are_skipped_not_fatal(nats_bus: NatsBus, backend: Backend) -> None:
    sub = await nats_bus.subscribe("wk.cameras.>", durable="robust")
    await raw_publish(backend, "wk.cameras.a.status", b"\x00 garbage")
    await raw_publish(backend, "wk.cameras.a.status", b'{"type": "camera_status", "version": 9}')
    await nats_bus.publish(status("a", "good"))

    assert reasons(await take(sub, 1)) == ["good"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_nats_is_reported_fast() -> None:
    bus = NatsBus(f"nats://user:secret@127.0.0.1:{closed_port()}", stream="WKTEST_DOWN")
    started = time.monotonic()

    with pytest.raises(BusUnavailableError, match="not reachable") as caught:
        await bus.start()

    assert time.monotonic() - started < 5
    assert "secret" not in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("data", [b"garbage", b"[1, 2]", b'{"type": "nope", "version": 1}', b"\xff\xfe"])
def test_garbage_bytes_do_not_decode(data: bytes) -> None:
    with pytest.raises(MessageFormatError):
        decode(data)
