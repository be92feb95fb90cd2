"""Passwords in URLs never appear in repr, str, dumps, validation errors or ConfigError messages."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from tests.config.conftest import GOOD_CONFIG, WriteConfig
from watchkeeper.config import (
    CameraInputConfig,
    ConfigError,
    SecretUrl,
    StorageConfig,
    WatchkeeperConfig,
    load_config,
    redact_url,
)

PASSWORD = "hunter2"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://admin:hunter2@10.0.0.5:554/stream1", "rtsp://admin:***@10.0.0.5:554/stream1"),
        ("rtsp://admin:p@ss@10.0.0.5/s", "rtsp://admin:***@10.0.0.5/s"),
        ("rtsps://:hunter2@cam.local/live", "rtsps://:***@cam.local/live"),
        ("http://cam/snap.jpg?user=admin&password=hunter2", "http://cam/snap.jpg?user=admin&password=***"),
        ("http://cam/x?token=abc&size=2", "http://cam/x?token=***&size=2"),
        ("rtsp://10.0.0.5/stream1", "rtsp://10.0.0.5/stream1"),
        ("rtsp://admin@10.0.0.5/stream1", "rtsp://admin@10.0.0.5/stream1"),
        ("/videos/clip.mp4", "/videos/clip.mp4"),
        ("a rtsp://u:one@h/x and nats://v:two@n:4222 b", "a rtsp://u:***@h/x and nats://v:***@n:4222 b"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_input_repr_str_dump_hide_password() -> None:
    item = CameraInputConfig.model_validate(
        {"url": f"rtsp://admin:{PASSWORD}@10.0.0.5/stream1", "roles": ["record"]}
    )
    assert item.url.get_secret_value() == f"rtsp://admin:{PASSWORD}@10.0.0.5/stream1"
    assert item.redacted_url == "rtsp://admin:***@10.0.0.5/stream1"
    assert item.url.has_credentials
    for shown in (repr(item), str(item), str(item.url), repr(item.url), item.model_dump_json()):
        assert PASSWORD not in shown
    assert item.model_dump()["url"] == "rtsp://admin:***@10.0.0.5/stream1"


def test_logging_a_config_hides_password(caplog: pytest.LogCaptureFixture) -> None:
    item = CameraInputConfig(url=SecretUrl(f"rtsp://a:{PASSWORD}@h/s"), roles=["detect"])
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("input %s url %s", item, item.url)
    assert PASSWORD not in caplog.text
    assert "***" in caplog.text


@pytest.mark.parametrize(
    "bad_url",
    [
        f"ftp://admin:{PASSWORD}@cam/stream",
        f"rtsp://admin:{PASSWORD}@",
        f"rtsp://admin:{PASSWORD}@[::1/x",
    ],
)
def test_pydantic_validation_error_hides_password(bad_url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CameraInputConfig.model_validate({"url": bad_url, "roles": ["record"]})
    assert PASSWORD not in str(caught.value)
    assert PASSWORD not in repr(caught.value)


def test_validation_error_of_other_field_hides_password() -> None:
    data = {"url": f"rtsp://admin:{PASSWORD}@cam/s", "roles": ["record"], "transport": 7}
    with pytest.raises(ValidationError) as caught:
        CameraInputConfig.model_validate(data)
    assert PASSWORD not in str(caught.value)


def test_config_error_hides_password(write_config: WriteConfig) -> None:
    text = (
        GOOD_CONFIG.replace("rtsp://127.0.0.1:8554/gate", f"ftp://admin:{PASSWORD}@cam/x")
        + f"storage:\n  database_url: mysql://root:{PASSWORD}@db/x\n"
        + f"  bus: {{type: nats, url: 'x:{PASSWORD}'}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(text))
    message = str(caught.value)
    assert "cameras[0].inputs[0].url: unsupported URL scheme 'ftp'" in message
    assert "storage.database_url: expected a sqlite:/// or postgresql://" in message
    assert "storage.bus.url" in message
    assert PASSWORD not in message
    assert "(got" not in message.split("storage.bus.url")[1]  # malformed secret URLs are never echoed
    assert caught.value.__cause__ is None or PASSWORD not in str(caught.value.__cause__)


def test_yaml_syntax_error_hides_password(write_config: WriteConfig) -> None:
    text = f"cameras:\n  - url: rtsp://admin:{PASSWORD}@cam/x\n    roles: [record\n"
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(text))
    assert "YAML syntax error" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_whole_config_repr_and_database_password_hidden() -> None:
    config = WatchkeeperConfig(
        storage=StorageConfig.model_validate({"database_url": f"postgresql://wk:{PASSWORD}@db/wk"})
    )
    assert PASSWORD not in repr(config)
    assert PASSWORD not in config.model_dump_json()
    assert config.storage.database_url.get_secret_value().endswith(f"{PASSWORD}@db/wk")
