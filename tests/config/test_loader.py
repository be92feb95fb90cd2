"""load_config: valid files, and one clear line per problem for invalid ones."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.config.conftest import GOOD_CONFIG, WriteConfig
from watchkeeper.config import ConfigError, NatsBusConfig, WatchkeeperConfig, load_config
from watchkeeper.domain import WatchkeeperError

CAMERA_HEAD = GOOD_CONFIG  # lines 1-10; the first camera starts on line 5


def _camera(cam_id: str, extra: str = "", site: str = "main", roles: str = "[record, detect]") -> str:
    return (
        f"  - id: {cam_id}\n"
        f"    name: Camera {cam_id}\n"
        f"    site: {site}\n"
        "    inputs:\n"
        f"      - url: rtsp://127.0.0.1:8554/{cam_id}\n"
        f"        roles: {roles}\n"
        f"{extra}"
    )


BAD_FILES = [
    pytest.param(
        GOOD_CONFIG.replace("    name: Gate", "    nmae: Gate"),
        6,
        "cameras[0].nmae: unknown key (did you mean 'name'?)",
        id="unknown-key-suggestion",
    ),
    pytest.param(
        GOOD_CONFIG + "recording:\n  segment_seconds: ten\n",
        12,
        "recording.segment_seconds: input should be a valid integer",
        id="wrong-type",
    ),
    pytest.param(
        GOOD_CONFIG + "server:\n  port: 70000\n",
        12,
        "server.port: input should be less than or equal to 65535 (got 70000)",
        id="out-of-bounds",
    ),
    pytest.param(
        GOOD_CONFIG + _camera("yard", roles="[recrod, detect]"),
        16,
        "cameras[1].inputs[0].roles[0]: input should be 'record' or 'detect' (got 'recrod')",
        id="bad-enum",
    ),
    pytest.param(
        GOOD_CONFIG.replace("    name: Gate\n", ""),
        5,
        "cameras[0].name: required key is missing",
        id="missing-required",
    ),
    pytest.param(
        GOOD_CONFIG + _camera("gate"),
        11,
        "cameras[1].id: duplicate camera id 'gate' (first used at cameras[0].id)",
        id="duplicate-camera-id",
    ),
    pytest.param(
        GOOD_CONFIG + _camera("yard", site="elsewhere"),
        13,
        "cameras[1].site: unknown site 'elsewhere' (sites defined: 'main')",
        id="unknown-site",
    ),
    pytest.param(
        GOOD_CONFIG.replace("[record, detect]", "[detect]"),
        8,
        "cameras[0].inputs: exactly one input must have role 'record' (found 0)",
        id="no-record-input",
    ),
    pytest.param(
        GOOD_CONFIG + _camera("yard", roles="[record]"),
        14,
        "cameras[1].inputs: exactly one input must have role 'detect' (found 0)",
        id="no-detect-input",
    ),
    pytest.param(
        GOOD_CONFIG + "storage:\n  bus:\n    type: nats\n    url: http://x\n",
        14,
        "storage.bus.url: expected a nats://host:port (or tls://, ws://, wss://) URL",
        id="tagged-union-path",
    ),
    pytest.param(
        GOOD_CONFIG + "storage:\n  bus:\n    type: kafka\n",
        13,
        "storage.bus.type: input should be 'local' or 'nats' (got 'kafka')",
        id="bad-discriminator",
    ),
    pytest.param(
        GOOD_CONFIG + "storage:\n  bus:\n    url: nats://x:4222\n",
        12,
        "storage.bus: required key 'type' is missing",
        id="missing-discriminator",
    ),
    pytest.param(
        GOOD_CONFIG + "cameras2: []\n",
        11,
        ": cameras2: unknown key (did you mean 'cameras'?)",
        id="unknown-top-level-key",
    ),
    pytest.param(
        GOOD_CONFIG + "  - id: Bad_Id\n    name: x\n    site: main\n    inputs: []\n",
        11,
        "cameras[1].id: string should match pattern",
        id="bad-slug",
    ),
    pytest.param(
        GOOD_CONFIG + "recording:\n  reconnect_initial_s: 50\n  reconnect_max_s: 10\n",
        11,
        "recording: reconnect_initial_s (50.0) must not exceed reconnect_max_s (10.0)",
        id="model-level-check",
    ),
    pytest.param(
        "sites:\n  - id: main\n    name: [unclosed\n",
        4,
        "YAML syntax error",
        id="yaml-syntax-error",
    ),
    pytest.param(
        "server:\n  port: 1\n  port: 2\n",
        3,
        "duplicate key 'port' (first at line 2)",
        id="duplicate-yaml-key",
    ),
    pytest.param("", None, "file is empty", id="empty-file"),
    pytest.param("# only a comment\n", None, "file is empty", id="comment-only-file"),
    pytest.param(
        "- a\n- b\n", 1, "top level must be a mapping of sections (got a list)", id="top-level-list"
    ),
]


@pytest.mark.parametrize(("text", "line", "expected"), BAD_FILES)
def test_bad_file_names_line_and_path(
    write_config: WriteConfig, text: str, line: int | None, expected: str
) -> None:
    path = write_config(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    where = f"{path}:{line}: " if line is not None else f"{path}: "
    matching = [row for row in message.splitlines() if row.startswith(where) and expected in row]
    assert matching, f"expected a line starting {where!r} containing {expected!r}, got:\n{message}"


def test_one_line_per_problem(write_config: WriteConfig) -> None:
    text = GOOD_CONFIG.replace("    name: Gate", "    nmae: Gate") + "server:\n  port: 0\n  hots: x\n"
    path = write_config(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == len(caught.value.problems) == 4  # nmae, missing name, port, hots
    assert [problem.line for problem in caught.value.problems] == sorted(
        problem.line or 0 for problem in caught.value.problems
    )
    assert any("server.hots: unknown key (did you mean 'host'?)" in row for row in lines)


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"nope\.yaml: file not found$") as caught:
        load_config(missing)
    assert isinstance(caught.value, WatchkeeperError)
    assert caught.value.code == "config_invalid"


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(write_config: WriteConfig) -> None:
    path = write_config(GOOD_CONFIG)
    path.chmod(0)
    try:
        with pytest.raises(ConfigError, match="cannot read file"):
            load_config(path)
    finally:
        path.chmod(0o600)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"sites: []\n# caf\xe9\n")
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        load_config(path)


def test_good_file_loads(write_config: WriteConfig) -> None:
    config = load_config(write_config(GOOD_CONFIG))
    assert isinstance(config, WatchkeeperConfig)
    camera = config.cameras[0]
    assert camera.record_input is camera.detect_input
    assert camera.record_input.transport == "tcp"
    assert config.camera("gate") is camera
    assert config.camera("nope") is None
    assert camera.to_domain().site_id == "main"


def test_nats_bus_selected_by_type(write_config: WriteConfig) -> None:
    text = GOOD_CONFIG + "storage:\n  bus:\n    type: nats\n    url: nats://u:pw@127.0.0.1:4222\n"
    config = load_config(write_config(text))
    assert isinstance(config.storage.bus, NatsBusConfig)
    assert config.storage.bus.url.get_secret_value() == "nats://u:pw@127.0.0.1:4222"
    assert "pw" not in repr(config)


def test_relative_paths_resolve_against_config_folder(
    write_config: WriteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = GOOD_CONFIG + "storage:\n  database_url: sqlite:///../data/wk.db\n  media_root: media\n"
    path = write_config(text)
    monkeypatch.chdir(tmp_path.parent)  # the working directory must not matter
    storage = load_config(path).storage
    assert storage.database_url.get_secret_value() == f"sqlite:///{tmp_path / 'data' / 'wk.db'}"
    assert storage.media_root == tmp_path / "conf" / "media"


def test_default_storage_paths_resolve_against_config_folder(write_config: WriteConfig) -> None:
    path = write_config(GOOD_CONFIG)
    storage = load_config(path).storage
    folder = path.parent.absolute()
    assert storage.database_url.get_secret_value() == f"sqlite:///{folder / 'var/watchkeeper/watchkeeper.db'}"
    assert storage.media_root == folder / "var/watchkeeper/media"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////abs/wk.db",
        "sqlite:///:memory:",
        "postgresql+psycopg://wk:secret@127.0.0.1/test",
    ],
)
def test_absolute_and_server_database_urls_unchanged(write_config: WriteConfig, url: str) -> None:
    path = write_config(GOOD_CONFIG + f"storage:\n  database_url: '{url}'\n")
    assert load_config(path).storage.database_url.get_secret_value() == url


def test_absolute_media_root_unchanged(write_config: WriteConfig, tmp_path: Path) -> None:
    path = write_config(GOOD_CONFIG + f"storage:\n  media_root: {tmp_path / 'm'}\n")
    assert load_config(path).storage.media_root == tmp_path / "m"


def test_demo_file_validates(repo_root: Path) -> None:
    config = load_config(repo_root / "examples" / "demo.yaml")
    assert [site.id for site in config.sites] == ["demo-campus"]
    assert [camera.id for camera in config.cameras] == ["cam1", "cam2", "cam3", "cam4"]
    for index, camera in enumerate(config.cameras, start=1):
        assert camera.record_input.url.get_secret_value() == f"rtsp://127.0.0.1:8554/cam{index}"
        assert camera.position is not None
        assert camera.position.heading_deg is not None
        assert camera.position.fov_deg is not None
    assert config.recording.segment_seconds == 4
    assert (
        config.storage.database_url.get_secret_value() == f"sqlite:///{repo_root / 'var/demo/watchkeeper.db'}"
    )
    assert config.storage.media_root == repo_root / "var" / "demo" / "media"
