"""Outbound webhooks: signed bodies, retries with backoff, dead letters, restart durability, secrets."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta

import pydantic
import pytest

from tests.integrations.conftest import Receiver, incident_message
from watchkeeper.bus.local import LocalBus
from watchkeeper.bus.messages import CameraStatusMessage
from watchkeeper.config.integrations import IntegrationsConfig, WebhookConfig
from watchkeeper.domain import CameraId, CameraState
from watchkeeper.domain.integrations import DeliveryState
from watchkeeper.integrations.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookDispatcher,
    sign,
    verify,
)
from watchkeeper.storage.protocols import Store

SECRET = "a-very-secret-signing-key"
NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def hook_config(url: str, **overrides: object) -> IntegrationsConfig:
    hook = {"name": "ops", "url": url, "secret": SECRET, "retry_initial_s": 0.05, "retry_max_s": 0.2}
    return IntegrationsConfig.model_validate({"webhooks": [{**hook, **overrides}]})


async def wait_until(predicate: object, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    ("timestamp", "body", "secret", "valid"),
    [
        (str(int(NOW.timestamp())), b'{"a":1}', SECRET, True),
        (str(int(NOW.timestamp())), b'{"a":2}', SECRET, False),  # body changed
        (str(int(NOW.timestamp())), b'{"a":1}', "another-secret-key-x", False),
        (str(int(NOW.timestamp()) - 3600), b'{"a":1}', SECRET, False),  # replayed an hour later
        ("not-a-number", b'{"a":1}', SECRET, False),
    ],
)
def test_signature_checks_body_secret_and_age(timestamp: str, body: bytes, secret: str, valid: bool) -> None:
    signature = sign(SECRET, int(NOW.timestamp()), b'{"a":1}') if timestamp != "not-a-number" else "sha256=00"
    if timestamp.isdigit() and int(timestamp) != int(NOW.timestamp()):
        signature = sign(SECRET, int(timestamp), body)
    assert verify(secret, timestamp, signature, body, NOW) is valid


def test_config_rejects_bad_urls_short_secrets_and_duplicate_names() -> None:
    with pytest.raises(pydantic.ValidationError, match="must be http"):
        hook_config("ftp://example.org/x")
    with pytest.raises(pydantic.ValidationError, match="at least 16"):
        hook_config("https://example.org/x", secret="short")
    with pytest.raises(pydantic.ValidationError, match="duplicate webhook name"):
        IntegrationsConfig.model_validate(
            {"webhooks": [{"name": "a", "url": "https://x/", "secret": SECRET}] * 2}
        )


def test_secrets_never_show_in_repr_dumps_or_errors() -> None:
    config = hook_config("https://user:pw@example.org/hook?token=t0ps3cret")
    texts = [repr(config), str(config), config.model_dump_json(), json.dumps(config.model_dump(mode="json"))]
    for text in texts:
        assert SECRET not in text
        assert "t0ps3cret" not in text
        assert ":pw@" not in text
    with pytest.raises(pydantic.ValidationError) as caught:
        hook_config("gopher://example.org/?token=t0ps3cret")
    assert "t0ps3cret" not in str(caught.value)


async def test_delivery_is_signed_and_retried_until_the_receiver_accepts(
    store: Store, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.script = [500, 503]
    bus = LocalBus()
    await bus.start()
    dispatcher = WebhookDispatcher(bus, store.webhook_deliveries, hook_config(receiver.url), poll_s=0.05)
    await dispatcher.start()
    caplog.set_level(logging.DEBUG, logger="watchkeeper")
    try:
        message = incident_message()
        await bus.publish(message)
        await wait_until(lambda: len(receiver.requests) == 3)
        await wait_until(lambda: store.webhook_deliveries.list(DeliveryState.DELIVERED).total == 1)
    finally:
        await dispatcher.stop()
        await bus.close()
    request = receiver.requests[-1]
    assert request.path == "/hook?token=s3cr3t-token"
    assert verify(
        SECRET,
        request.headers[TIMESTAMP_HEADER],
        request.headers[SIGNATURE_HEADER],
        request.body,
        datetime.now(UTC),
    )
    body = json.loads(request.body)
    assert body["event"] == "incident.created" == request.headers[EVENT_HEADER]
    assert body["data"]["incident_id"] == message.incident_id
    assert body["data"]["revision"] == 1
    assert len({r.headers[DELIVERY_HEADER] for r in receiver.requests}) == 1  # same delivery id each retry
    (done,) = store.webhook_deliveries.list().items
    assert done.attempts == 3
    assert done.last_status == 200
    assert SECRET not in caplog.text
    assert "s3cr3t-token" not in caplog.text


async def test_exhausted_delivery_becomes_a_dead_letter_and_can_be_retried(
    store: Store, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.script = [500, 500]
    bus = LocalBus()
    await bus.start()
    dispatcher = WebhookDispatcher(
        bus, store.webhook_deliveries, hook_config(receiver.url, max_attempts=2), poll_s=0.05
    )
    await dispatcher.start()
    try:
        await bus.publish(incident_message())
        await wait_until(lambda: store.webhook_deliveries.list(DeliveryState.DEAD).total == 1)
        (dead,) = store.webhook_deliveries.list(DeliveryState.DEAD).items
        assert dead.attempts == 2
        assert dead.last_error == "HTTP 500"
        assert "dead letter" in caplog.text
        assert "s3cr3t-token" not in caplog.text
        await asyncio.to_thread(dispatcher.retry, dead.id or 0)
        await wait_until(lambda: store.webhook_deliveries.list(DeliveryState.DELIVERED).total == 1)
    finally:
        await dispatcher.stop()
        await bus.close()
    assert len(receiver.requests) == 3


async def test_unreachable_receiver_is_a_network_error_then_dead(store: Store) -> None:
    bus = LocalBus()
    await bus.start()
    config = hook_config("http://127.0.0.1:9/down?token=zzz-secret", max_attempts=2, timeout_s=1)
    dispatcher = WebhookDispatcher(bus, store.webhook_deliveries, config, poll_s=0.05)
    await dispatcher.start()
    try:
        await bus.publish(incident_message())
        await wait_until(lambda: store.webhook_deliveries.list(DeliveryState.DEAD).total == 1)
    finally:
        await dispatcher.stop()
        await bus.close()
    (dead,) = store.webhook_deliveries.list(DeliveryState.DEAD).items
    assert dead.last_status is None
    assert "ConnectError" in dead.last_error
    assert "zzz-secret" not in dead.last_error


async def test_pending_deliveries_survive_a_restart(store: Store, receiver: Receiver) -> None:
    config = hook_config(receiver.url)
    bus = LocalBus()
    await bus.start()
    first = WebhookDispatcher(bus, store.webhook_deliveries, config, poll_s=60)
    # Queued (written to the database) but the process stops before sending.
    queued = await asyncio.to_thread(first.enqueue, incident_message())
    assert len(queued) == 1
    assert receiver.requests == []
    second = WebhookDispatcher(bus, store.webhook_deliveries, config, poll_s=0.05)
    await second.start()
    try:
        await wait_until(lambda: len(receiver.requests) == 1)
    finally:
        await second.stop()
        await bus.close()
    assert json.loads(receiver.requests[0].body)["data"]["incident_id"] == queued[0].subject_id


async def test_events_filter_selects_what_a_webhook_receives(store: Store, receiver: Receiver) -> None:
    config = hook_config(receiver.url, events=["incident.transition", "camera.status"])
    bus = LocalBus()
    await bus.start()
    dispatcher = WebhookDispatcher(bus, store.webhook_deliveries, config)
    created = incident_message()
    moved = incident_message(created.incident_id, 2, "transition", state="acknowledged")  # type: ignore[arg-type]
    status = CameraStatusMessage(camera_id=CameraId("a1"), state=CameraState.OFFLINE, since=NOW)
    counts = [len(await asyncio.to_thread(dispatcher.enqueue, m)) for m in (created, moved, status)]
    await bus.close()
    assert counts == [0, 1, 1]
    default = WebhookDispatcher(bus, store.webhook_deliveries, hook_config(receiver.url, name="all"))
    assert len(default.enqueue(created)) == 1
    assert default.enqueue(status) == []


def test_backoff_doubles_up_to_the_cap() -> None:
    hook = WebhookConfig.model_validate(
        {"name": "x", "url": "https://x/", "secret": SECRET, "retry_initial_s": 2, "retry_max_s": 10}
    )
    assert [hook.backoff_s(n) for n in (1, 2, 3, 4, 5)] == [2, 4, 8, 10, 10]
    assert timedelta(seconds=hook.backoff_s(1)) == timedelta(seconds=2)
