"""The stream limits in ``storage.bus`` reach the JetStream stream (real NATS), and bad values are refused."""

from __future__ import annotations

import uuid
from typing import Any

import nats
import pytest
from pydantic import ValidationError

from tests.support.services import require_service
from watchkeeper.bus.nats import NatsBus
from watchkeeper.config.storage import NatsBusConfig
from watchkeeper.runtime.wiring import build_bus

NATS_HOST, NATS_PORT = "127.0.0.1", 4222
NATS_URL = f"nats://{NATS_HOST}:{NATS_PORT}"


def _config(**limits: Any) -> NatsBusConfig:
    tag = uuid.uuid4().hex[:12]
    return NatsBusConfig.model_validate(
        {"type": "nats", "url": NATS_URL, "stream": f"WKLIMIT_{tag}", "subject_prefix": f"wk{tag}", **limits}
    )


async def _stream_config(name: str) -> Any:
    client = await nats.connect(NATS_URL)
    try:
        return (await client.jetstream().stream_info(name)).config
    finally:
        await client.close()


async def test_configured_limits_are_the_streams_limits() -> None:
    require_service("NATS", NATS_HOST, NATS_PORT)
    config = _config(max_age_days=2.5, max_messages=250_000, max_bytes=64 << 20, duplicate_window_s=30)
    bus = build_bus(config)
    assert isinstance(bus, NatsBus)
    await bus.start()
    try:
        stream = await _stream_config(config.stream)
        assert stream.max_age == pytest.approx(2.5 * 86_400)
        assert stream.max_msgs == 250_000
        assert stream.max_bytes == 64 << 20
        assert stream.duplicate_window == pytest.approx(30)
    finally:
        await bus.delete_stream()
        await bus.close()


async def test_changed_limits_update_an_existing_stream() -> None:
    require_service("NATS", NATS_HOST, NATS_PORT)
    first = _config(max_messages=100_000)
    bus = build_bus(first)
    await bus.start()
    await bus.close()
    bigger = first.model_copy(update={"max_messages": 3_000_000, "max_age_days": 14.0})
    again = build_bus(bigger)
    assert isinstance(again, NatsBus)
    await again.start()
    try:
        stream = await _stream_config(first.stream)
        assert stream.max_msgs == 3_000_000
        assert stream.max_age == pytest.approx(14 * 86_400)
    finally:
        await again.delete_stream()
        await again.close()


@pytest.mark.parametrize(
    ("key", "value"),
    [("max_messages", 10), ("max_bytes", 1024), ("max_age_days", 0), ("max_age_days", -1.0)],
)
def test_too_small_limits_are_refused_naming_the_key(key: str, value: float) -> None:
    with pytest.raises(ValidationError) as caught:
        _config(**{key: value})
    assert key in str(caught.value)
