"""Encrypted secrets: the store round trip, ``${secret:NAME}`` references, and every way they can fail."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.config.conftest import WriteConfig
from watchkeeper.config import ConfigError, SecretUrl, load_config
from watchkeeper.config.secretstore import KEY_FILE, SECRETS_FILE, SecretStore, SecretStoreError

CAMERA_PASSWORD = "s3cr3t-Cam-Pa55"
WEBHOOK_TOKEN = "T0KEN-in-the-path-42"
SIGNING_SECRET = "a-signing-secret-of-32-characters"

CONFIG = """\
sites:
  - id: main
    name: Main site
cameras:
  - id: gate
    name: Gate
    site: main
    inputs:
      - url: rtsp://viewer:${secret:gate-cam}@10.0.0.5/stream
        roles: [record, detect]
integrations:
  mqtt:
    password: ${secret:mqtt}
  webhooks:
    - name: chat
      url: https://hooks.example.org/services/${secret:hook-token}
      secret: ${secret:hook-signing}
"""


def _store(folder: Path) -> SecretStore:
    store = SecretStore.open(folder)
    for name, value in {
        "gate-cam": CAMERA_PASSWORD,
        "mqtt": "mqtt-pass",
        "hook-token": WEBHOOK_TOKEN,
        "hook-signing": SIGNING_SECRET,
    }.items():
        store = store.with_value(name, value)
    return store


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_store_round_trip_is_encrypted_and_private(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert store.names() == ["gate-cam", "hook-signing", "hook-token", "mqtt"]
    reopened = SecretStore.open(tmp_path)
    assert reopened.get("gate-cam") == CAMERA_PASSWORD
    assert reopened.get("nope") is None
    for name in (SECRETS_FILE, KEY_FILE):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
    assert CAMERA_PASSWORD.encode() not in (tmp_path / SECRETS_FILE).read_bytes()
    assert CAMERA_PASSWORD not in repr(reopened)
    removed = reopened.without("mqtt")
    assert SecretStore.open(tmp_path).names() == removed.names() == ["gate-cam", "hook-signing", "hook-token"]
    with pytest.raises(SecretStoreError, match="no secret 'mqtt'"):
        removed.without("mqtt")
    with pytest.raises(SecretStoreError, match="invalid secret name"):
        removed.with_value("no spaces", "x")
    with pytest.raises(SecretStoreError, match="empty"):
        removed.with_value("empty", "")


def test_references_resolve_into_secret_types(write_config: WriteConfig) -> None:
    path = write_config(CONFIG)
    _store(path.parent)
    config = load_config(path)
    url = config.cameras[0].inputs[0].url
    assert url.get_secret_value() == f"rtsp://viewer:{CAMERA_PASSWORD}@10.0.0.5/stream"
    assert url.redacted == "rtsp://viewer:***@10.0.0.5/stream"
    password = config.integrations.mqtt.password
    assert isinstance(password, SecretStr)
    assert password.get_secret_value() == "mqtt-pass"
    hook = config.integrations.webhooks[0]
    assert hook.url.get_secret_value().endswith(f"/services/{WEBHOOK_TOKEN}")
    assert hook.url.redacted == "https://hooks.example.org/services/***"
    assert hook.secret.get_secret_value() == SIGNING_SECRET
    shown = repr(config) + str(config) + config.model_dump_json() + repr(url) + str(hook.url)
    for value in (CAMERA_PASSWORD, WEBHOOK_TOKEN, SIGNING_SECRET, "mqtt-pass"):
        assert value not in shown


def test_unknown_name_names_file_line_path_and_name_only(write_config: WriteConfig) -> None:
    path = write_config(CONFIG)
    store = _store(path.parent).without("gate-cam").with_value("other", CAMERA_PASSWORD)
    assert store.names()
    message = _error(path)
    assert message.startswith(f"{path}:9: cameras[0].inputs[0].url: unknown secret 'gate-cam'")
    assert len(message.splitlines()) == 1
    assert CAMERA_PASSWORD not in message


def test_config_without_references_never_opens_the_store(write_config: WriteConfig) -> None:
    path = write_config(CONFIG.replace("${secret:gate-cam}", "plain").split("integrations:")[0])
    (path.parent / SECRETS_FILE).write_bytes(b"garbage")
    assert load_config(path).cameras[0].inputs[0].url.redacted == "rtsp://viewer:***@10.0.0.5/stream"


def test_reference_outside_a_secret_field_is_refused(write_config: WriteConfig) -> None:
    path = write_config(CONFIG.replace("name: Gate", "name: ${secret:gate-cam}"))
    _store(path.parent)
    message = _error(path)
    assert f"{path}:6: cameras[0].name: ${{secret:...}} is allowed only in URL and password fields" in message
    assert CAMERA_PASSWORD not in message


def test_malformed_references(write_config: WriteConfig) -> None:
    path = write_config(
        CONFIG.replace("${secret:gate-cam}", "${secret:bad name}").replace("${secret:mqtt}", "${secret:mqtt")
    )
    _store(path.parent)
    lines = _error(path).splitlines()
    assert (
        lines[0] == f"{path}:9: cameras[0].inputs[0].url: invalid secret name 'bad name' in ${{secret:...}}"
    )
    assert lines[1] == f"{path}:13: integrations.mqtt.password: unterminated ${{secret:NAME}} reference"


def test_validation_errors_never_show_a_resolved_value(write_config: WriteConfig) -> None:
    path = write_config(
        CONFIG.replace("rtsp://viewer:", "ftp://viewer:").replace("${secret:hook-signing}", "${secret:mqtt}")
    )
    _store(path.parent)
    message = _error(path)
    assert "cameras[0].inputs[0].url: unsupported URL scheme 'ftp'" in message
    assert "integrations.webhooks[0].secret:" in message  # 'mqtt-pass' is shorter than 16 characters
    for value in (CAMERA_PASSWORD, "mqtt-pass", WEBHOOK_TOKEN):
        assert value not in message


def test_tampered_secrets_file_is_refused(write_config: WriteConfig) -> None:
    path = write_config(CONFIG)
    _store(path.parent)
    blob = bytearray((path.parent / SECRETS_FILE).read_bytes())
    blob[-5] ^= 0x01
    (path.parent / SECRETS_FILE).write_bytes(bytes(blob))
    message = _error(path)
    assert "does not authenticate: it was modified or damaged" in message
    assert len(message.splitlines()) == 1


def test_another_key_is_told_apart_from_tampering(write_config: WriteConfig) -> None:
    path = write_config(CONFIG)
    _store(path.parent)
    key = path.parent / KEY_FILE
    key.write_text(f"wk-secrets-key-1 {base64.b64encode(secrets.token_bytes(32)).decode()}\n")
    assert "was encrypted with another key than" in _error(path)
    key.write_text("not a key\n")
    assert "is not a Watchkeeper secrets key" in _error(path)


def test_key_file_must_exist_and_be_private(write_config: WriteConfig) -> None:
    path = write_config(CONFIG)
    _store(path.parent)
    key = path.parent / KEY_FILE
    os.chmod(key, 0o640)
    message = _error(path)
    assert (
        f"secrets key file {key} is readable by group or others (mode 640); run `chmod 600 {key}`" in message
    )
    assert len(message.splitlines()) == 1
    key.unlink()
    assert f"secrets key file {key} is missing" in _error(path)


def test_secret_url_hidden_parts() -> None:
    url = SecretUrl("https://h/x/abc/y", hidden=["abc", ""])
    assert url.redacted == "https://h/x/***/y"
    assert url.has_credentials
    assert url == SecretUrl("https://h/x/abc/y")
