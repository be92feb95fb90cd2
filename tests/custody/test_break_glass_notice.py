"""The break-glass notice: one bus message, decoded by every consumer, sent to webhooks by default."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from tests.custody.conftest import CAM, T0, Clock
from watchkeeper.audit.log import AuditLog
from watchkeeper.bus.errors import MessageFormatError
from watchkeeper.bus.local import LocalBus
from watchkeeper.bus.messages import BreakGlassMessage, decode, encode
from watchkeeper.config.integrations import WebhookConfig
from watchkeeper.integrations.webhooks import outbound
from watchkeeper.privacy.grants import Actor, GrantService, GrantSettings
from watchkeeper.runtime.custody import BreakGlassNotice
from watchkeeper.storage.protocols import Store

REASON = "person collapsed by the loading bay"


def test_break_glass_is_published_on_the_bus(store: Store, audit: AuditLog, clock: Clock) -> None:
    async def run() -> BreakGlassMessage:
        bus = LocalBus()
        await bus.start()
        subscription = await bus.subscribe("wk.custody.>")
        grants = GrantService(
            store.grants, audit, GrantSettings(break_glass=True), BreakGlassNotice(bus), clock
        )
        grant = await asyncio.to_thread(grants.break_glass, Actor("ivy", "10.0.0.9"), [CAM], REASON)
        message = await asyncio.wait_for(anext(aiter(subscription)), 5)
        await subscription.close()
        await bus.close()
        assert isinstance(message, BreakGlassMessage)
        assert message.grant_id == grant.id
        return message

    message = asyncio.run(run())
    assert (message.requester, message.camera_ids, message.reason) == ("ivy", (CAM,), REASON)
    assert message.expires_at == T0 + timedelta(minutes=15)


def test_the_message_round_trips_and_bad_ones_are_refused() -> None:
    message = BreakGlassMessage(
        grant_id="grt-1", requester="ivy", camera_ids=(CAM,), reason=REASON, at=T0, expires_at=T0
    )
    assert decode(encode(message)) == message
    assert message.subject == "wk.custody.break_glass"
    broken = json.loads(encode(message))
    broken["camera_ids"] = []
    with pytest.raises(MessageFormatError):
        decode(json.dumps(broken).encode())


def test_webhooks_carry_break_glass_by_default() -> None:
    message = BreakGlassMessage(
        grant_id="grt-1", requester="ivy", camera_ids=(CAM,), reason=REASON, at=T0, expires_at=T0
    )
    item = outbound(message, T0)
    assert item is not None
    assert (item.event, item.subject_id) == ("custody.break_glass", "grt-1")
    assert json.loads(item.body)["data"]["reason"] == REASON
    hook = {"name": "soc", "url": "https://soc.example/hook", "secret": "s" * 32}
    assert WebhookConfig.model_validate(hook).wants("custody.break_glass")
    only_status = WebhookConfig.model_validate({**hook, "events": ["camera.status"]})
    assert not only_status.wants("custody.break_glass")
