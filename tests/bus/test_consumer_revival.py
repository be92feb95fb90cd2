"""A subscription whose consumer the server lost (NATS restarted, or idle past its threshold) re-creates it.

A fetch from a deleted consumer only times out, so without this the subscription would wait for ever and its
owner (the config follower, the console's live feed, an incident consumer) would go deaf without a word.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import nats
import pytest

from tests.support.services import require_service
from watchkeeper.bus import nats as nats_bus
from watchkeeper.bus.messages import BusMessage, CameraStatusMessage
from watchkeeper.bus.nats import NatsBus, NatsSubscription, NatsTuning
from watchkeeper.domain import CameraId, CameraState, CameraStatus, utcnow

NATS_HOST, NATS_PORT = "127.0.0.1", 4222
NATS_URL = f"nats://{NATS_HOST}:{NATS_PORT}"


def _status(camera: str) -> CameraStatusMessage:
    return CameraStatusMessage.from_domain(
        CameraStatus(CameraId(camera), CameraState.STREAMING, utcnow(), "")
    )


async def _next(subscription: NatsSubscription, timeout_s: float) -> BusMessage:
    async def first() -> BusMessage:
        async for message in subscription:
            return message
        raise AssertionError("the subscription ended")

    return await asyncio.wait_for(first(), timeout_s)


@pytest.mark.parametrize("durable", [None, "revival-test"])
async def test_a_lost_consumer_is_re_created_and_delivers_again(
    durable: str | None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    require_service("NATS", NATS_HOST, NATS_PORT)
    monkeypatch.setattr(nats_bus, "CONSUMER_CHECK_S", 0.5)
    tag = uuid.uuid4().hex[:10]
    bus = NatsBus(
        NATS_URL, stream=f"WKREV_{tag}", subject_prefix=f"wkrev{tag}", tuning=NatsTuning(fetch_timeout_s=0.2)
    )
    await bus.start()
    client = await nats.connect(NATS_URL)
    try:
        subscription = await bus.subscribe("wk.cameras.*.status", durable=durable)
        await bus.publish(_status("before"))
        assert isinstance(await _next(subscription, 5), CameraStatusMessage)
        await client.jetstream().delete_consumer(bus.stream, subscription.consumer)  # the server lost it
        with caplog.at_level(logging.WARNING, logger="watchkeeper.bus.nats"):
            waiting = asyncio.create_task(_next(subscription, 15))  # idle: it notices at its next check
            deadline = asyncio.get_running_loop().time() + 10
            while not any("was gone from stream" in record.getMessage() for record in caplog.records):
                assert asyncio.get_running_loop().time() < deadline, "the lost consumer was never noticed"
                await asyncio.sleep(0.1)
            await bus.publish(_status("after"))
            message = await waiting
        assert isinstance(message, CameraStatusMessage)
        assert message.camera_id == "after"
        await subscription.close()
    finally:
        await client.close()
        await bus.delete_stream()
        await bus.close()
