"""Several sites on NATS: a site stream at a leaf node, a hub stream sourcing it, ``Nats-Msg-Id`` dedup.

Real nats-servers (a hub in domain ``hub`` and a leaf in domain ``site1``, linked through a TCP hop that the
test cuts) and :class:`NatsBus` objects only. The single-site test runs on the shared NATS of the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import pytest

from tests.support.nats_sites import Drain, SiteLink, hub_and_site, wait_linked
from tests.support.services import require_service
from watchkeeper.bus.messages import BusMessage, EventMessage, SegmentMessage
from watchkeeper.bus.nats import NatsBus, NatsTuning
from watchkeeper.bus.sites import SiteLayout, SiteSource
from watchkeeper.domain import CameraId, Event, EventKind, Rendition

FAST = NatsTuning(fetch_timeout_s=0.3)
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PREFIX = "wks"
SITE_STREAM = "WKSITE"
HUB_STREAM = "WKHUB"
CUT_MESSAGES = 300


def _event(camera: str, number: int, state: str = "started") -> EventMessage:
    event = Event(
        id=f"{camera}-{number}",
        camera_id=CameraId(camera),
        kind=EventKind.MOTION,
        start=T0 + timedelta(seconds=number),
        end=None,
        score=0.5,
    )
    return EventMessage.from_domain(event, state)


def _ids(messages: list[BusMessage]) -> list[str]:
    return [message.id for message in messages if isinstance(message, EventMessage)]


async def _stored(url: str, stream: str) -> int:
    client = await nats.connect(url)
    try:
        return (await client.jetstream().stream_info(stream)).state.messages
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def _buses(sites: SiteLink) -> AsyncIterator[tuple[NatsBus, NatsBus]]:
    site = NatsBus(
        sites.leaf.url,
        stream=SITE_STREAM,
        subject_prefix=PREFIX,
        tuning=FAST,
        layout=SiteLayout(site="site1"),
    )
    source = SiteSource(domain="site1", stream=SITE_STREAM, site="site1")
    hub = NatsBus(
        sites.hub.url,
        stream=HUB_STREAM,
        subject_prefix=PREFIX,
        tuning=FAST,
        layout=SiteLayout(site="hub", sources=(source,)),
    )
    await site.start()
    await hub.start()
    try:
        yield site, hub
    finally:
        await hub.close()
        await site.close()


@pytest.mark.timeout(90)
async def test_hub_sources_a_site_and_catches_up_after_a_cut_once_and_in_order(tmp_path: Path) -> None:
    with hub_and_site(tmp_path) as sites:
        await wait_linked(sites.hub, sites.leaf)
        async with _buses(sites) as (site, hub):
            console = Drain(await hub.subscribe("wk.events.*", durable="console"))
            local = Drain(await site.subscribe("wk.events.*", durable="local"))

            # A site publish reaches the hub once (through the sourcing only); the hub's own publishes stay
            # at the hub, and the hub's consumers see both.
            await site.publish(_event("cam-a", 0))
            await hub.publish(_event("cam-h", 0))
            await console.wait_for(2)
            assert sorted(_ids(console.messages)) == ["cam-a-0", "cam-h-0"]

            # A retried publish (same content, same Nats-Msg-Id) is stored once, at the site and the hub.
            await site.publish(_event("cam-a", 0))
            assert await _stored(sites.leaf.url, SITE_STREAM) == 1

            sites.link.close()
            cameras = ("cam-a", "cam-b", "cam-c")
            sent = [_event(cameras[number % 3], number + 1) for number in range(CUT_MESSAGES)]
            for message in sent:
                await site.publish(message)  # the site records on: its stream is local
            await asyncio.sleep(1.0)
            assert len(console.messages) == 2, "a message crossed a cut link"

            restored = time.monotonic()
            sites.link.reopen()
            await console.wait_for(2 + CUT_MESSAGES, timeout_s=30)
            catch_up_s = time.monotonic() - restored
            await asyncio.sleep(1.0)  # room for a duplicate to show up
            print(f"site cut: {CUT_MESSAGES} events caught up at the hub {catch_up_s:.2f} s after the link")

            got = _ids(console.messages)
            assert len(got) == len(set(got)) == 2 + CUT_MESSAGES, "an event reached the hub twice"
            for camera in cameras:
                want = [message.id for message in sent if message.camera_id == camera]
                assert [item for item in got if item.startswith(f"{camera}-") and item != "cam-a-0"] == want
            assert await _stored(sites.hub.url, HUB_STREAM) == 2 + CUT_MESSAGES

            # The site's own consumer sees only the site's messages (the hub's subjects never reach it).
            await local.wait_for(1 + CUT_MESSAGES)
            assert "cam-h-0" not in _ids(local.messages)
            assert len(local.messages) == 1 + CUT_MESSAGES
            await console.close()
            await local.close()


@pytest.mark.timeout(60)
async def test_a_retried_hub_publish_is_stored_once_and_sourced_messages_keep_their_site(
    tmp_path: Path,
) -> None:
    with hub_and_site(tmp_path) as sites:
        await wait_linked(sites.hub, sites.leaf)
        async with _buses(sites) as (site, hub):
            segment = SegmentMessage(
                camera_id=CameraId("cam-a"),
                start=T0,
                end=T0 + timedelta(seconds=2),
                path="cam-a/2026/12/01/12/00-00.mp4",
                size_bytes=10,
                rendition=Rendition.ORIGINAL,
            )
            await site.publish(segment)
            other = segment.model_copy(update={"path": "cam-a/2026/12/01/12/00-02.mp4"})
            await hub.publish(other)
            await hub.publish(other)  # a retry after a lost acknowledgement
            deadline = time.monotonic() + 10
            while await _stored(sites.hub.url, HUB_STREAM) < 2:
                assert time.monotonic() < deadline, "the site's segment was not sourced"
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            raw = await nats.connect(sites.hub.url)
            try:
                js = raw.jetstream()
                assert (await js.stream_info(HUB_STREAM)).state.messages == 2
                stored = [await js.get_msg(HUB_STREAM, sequence) for sequence in (1, 2)]
            finally:
                await raw.close()
            assert {item.subject for item in stored} == {
                f"{PREFIX}.site1.segments.cam-a",
                f"{PREFIX}.hub.segments.cam-a",
            }
            ids = {(item.headers or {}).get("Nats-Msg-Id") for item in stored}
            assert ids == {f"seg.cam-a.original.{segment.path}", f"seg.cam-a.original.{other.path}"}


@pytest.mark.timeout(30)
async def test_single_site_subjects_are_unchanged_and_retries_stored_once() -> None:
    require_service("NATS", "127.0.0.1", 4222)
    tag = uuid.uuid4().hex[:8]
    bus = NatsBus("nats://127.0.0.1:4222", stream=f"WKTEST_{tag}", subject_prefix=f"wk{tag}", tuning=FAST)
    await bus.start()
    raw = await nats.connect("nats://127.0.0.1:4222")
    try:
        tap = await raw.subscribe(f"wk{tag}.>")
        message = _event("cam1", 7)
        await bus.publish(message)
        await bus.publish(message)
        first = await tap.next_msg(timeout=5)
        assert first.subject == f"wk{tag}.events.cam1"
        assert first.headers is not None
        assert first.headers["Nats-Msg-Id"] == "evt.cam1-7.started"
        info = await raw.jetstream().stream_info(f"WKTEST_{tag}")
        assert info.config.subjects == [f"wk{tag}.>"]
        assert info.config.sources is None
        assert info.config.duplicate_window == 120.0
        assert info.state.messages == 1
    finally:
        await raw.close()
        await bus.delete_stream()
        await bus.close()
