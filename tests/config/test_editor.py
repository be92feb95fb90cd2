"""The configuration editor: round-trip edits keep comments, validate with the file's models, back up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.config.conftest import WriteConfig
from watchkeeper.config.editor import BACKUP_FOLDER, ConfigEditor, ConfigEditRejected
from watchkeeper.config.edits import put_camera, put_site, set_camera_enabled, set_retention
from watchkeeper.config.loader import load_config
from watchkeeper.domain import NotFoundError

COMMENTED = """\
# Site office cameras (edited by hand too).
sites:
  - id: main   # the only site
    name: Main site
cameras:
  - id: gate
    name: Gate        # faces the road
    site: main
    inputs:
      - url: rtsp://viewer:s3cret@127.0.0.1:8554/gate
        roles: [record, detect]
    position: {lat: 52.1, lon: 0.1}
recording:
  retain_days: 7  # policy: one week
"""


def _camera(camera_id: str = "yard", **extra: Any) -> dict[str, Any]:
    return {
        "id": camera_id,
        "name": "Yard",
        "site": "main",
        "inputs": [{"url": "rtsp://127.0.0.1:8554/yard", "roles": ["record", "detect"]}],
        **extra,
    }


def _backups(path: Path) -> list[Path]:
    folder = path.parent / BACKUP_FOLDER
    return sorted(folder.iterdir()) if folder.exists() else []


def test_edit_keeps_comments_and_order_and_backs_up(write_config: WriteConfig) -> None:
    path = write_config(COMMENTED)
    editor = ConfigEditor(path)

    change = editor.edit("camera gate renamed", put_camera("gate", {**_gate(editor), "name": "Main gate"}))

    text = path.read_text()
    assert "# Site office cameras (edited by hand too)." in text
    assert "# the only site" in text
    assert "retain_days: 7  # policy: one week" in text
    assert "name: Main gate" in text
    assert text.index("sites:") < text.index("cameras:") < text.index("recording:")
    assert "s3cret" in text  # the stored password survived an edit that only saw ***
    assert load_config(path).cameras[0].name == "Main gate"
    assert change.config.cameras[0].name == "Main gate"
    assert "-    name: Gate" in change.diff
    assert "+    name: Main gate" in change.diff
    assert "s3cret" not in change.diff
    [backup] = _backups(path)
    assert backup == change.backup
    assert backup.read_text() == COMMENTED


def _gate(editor: ConfigEditor) -> dict[str, Any]:
    cameras = editor.snapshot()["cameras"]
    assert isinstance(cameras, list)
    gate = cameras[0]
    assert isinstance(gate, dict)
    return gate


def test_snapshot_hides_passwords(write_config: WriteConfig) -> None:
    editor = ConfigEditor(write_config(COMMENTED))
    gate = _gate(editor)
    assert gate["inputs"] == [{"url": "rtsp://viewer:***@127.0.0.1:8554/gate", "roles": ["record", "detect"]}]
    assert "s3cret" not in repr(editor.snapshot())


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"name": ""}, "name", "at least 1 character"),
        ({"site": "nowhere"}, "site", "unknown site 'nowhere'"),
        ({"inputs": [{"url": "ftp://x/y", "roles": ["record", "detect"]}]}, "inputs[0].url", "ftp"),
        ({"inputs": [{"url": "rtsp://h/a", "roles": ["record"]}]}, "inputs", "role 'detect'"),
        ({"position": {"lat": 95, "lon": 0}}, "position.lat", "less than or equal to 90"),
        ({"colour": "red"}, "colour", "unknown key"),
    ],
)
def test_invalid_edit_is_rejected_with_field_and_nothing_written(
    write_config: WriteConfig, values: dict[str, Any], field: str, message: str
) -> None:
    path = write_config(COMMENTED)
    editor = ConfigEditor(path)

    with pytest.raises(ConfigEditRejected) as caught:
        editor.edit("bad", put_camera(None, _camera(**values)))

    assert caught.value.prefix == "cameras[1]"
    fields = {caught.value.field_of(problem): problem.message for problem in caught.value.problems}
    assert field in fields, fields
    assert message in fields[field]
    assert path.read_text() == COMMENTED
    assert _backups(path) == []


def test_duplicate_camera_id_is_a_field_error(write_config: WriteConfig) -> None:
    editor = ConfigEditor(write_config(COMMENTED))
    with pytest.raises(ConfigEditRejected) as caught:
        editor.edit("dup", put_camera(None, _camera("gate")))
    assert [caught.value.field_of(p) for p in caught.value.problems] == ["id"]


def test_redacted_password_must_match_the_stored_url(write_config: WriteConfig) -> None:
    path = write_config(COMMENTED)
    editor = ConfigEditor(path)
    moved = {
        **_gate(editor),
        "inputs": [{"url": "rtsp://viewer:***@10.0.0.9/gate", "roles": ["record", "detect"]}],
    }

    with pytest.raises(ConfigEditRejected) as caught:
        editor.edit("moved", put_camera("gate", moved))

    [problem] = caught.value.problems
    assert caught.value.field_of(problem) == "inputs[0].url"
    assert "password again" in problem.message
    assert path.read_text() == COMMENTED


def test_existing_id_cannot_change(write_config: WriteConfig) -> None:
    editor = ConfigEditor(write_config(COMMENTED))
    with pytest.raises(ConfigEditRejected) as caught:
        editor.edit("rename", put_camera("gate", {**_gate(editor), "id": "front"}))
    assert [caught.value.field_of(p) for p in caught.value.problems] == ["id"]


def test_add_camera_disable_and_unknown(write_config: WriteConfig) -> None:
    path = write_config(COMMENTED)
    editor = ConfigEditor(path)

    editor.edit(
        "add", put_camera(None, _camera(zones=[{"name": "door", "polygon": [[0, 0], [1, 0], [1, 1]]}]))
    )
    editor.edit("off", set_camera_enabled("yard", False))

    config = load_config(path)
    yard = config.camera("yard")
    assert yard is not None
    assert not yard.enabled
    assert yard.zones[0].name == "door"
    with pytest.raises(NotFoundError, match="no camera with id 'ghost'"):
        editor.edit("ghost", set_camera_enabled("ghost", True))


def test_sites_and_retention(write_config: WriteConfig) -> None:
    path = write_config(COMMENTED)
    editor = ConfigEditor(path)

    editor.edit("site", put_site(None, {"id": "depot", "name": "Depot"}))
    editor.edit("moved", put_camera(None, _camera(site="depot")))
    editor.edit("retention", set_retention(3, 30))

    config = load_config(path)
    assert [site.id for site in config.sites] == ["main", "depot"]
    assert config.recording.retain_days == 3
    assert config.recording.event_retain_days == 30
    assert "# policy: one week" in path.read_text()
    with pytest.raises(ConfigEditRejected) as caught:
        editor.edit("negative", set_retention(-1, 30))
    assert [p.path for p in caught.value.problems] == ["recording.retain_days"]
    assert caught.value.field_of(caught.value.problems[0]) == "retain_days"


def test_backups_are_capped(write_config: WriteConfig) -> None:
    path = write_config(COMMENTED)
    editor = ConfigEditor(path, keep_backups=3)
    for days in range(1, 7):
        editor.edit(f"days {days}", set_retention(days, 30))
    backups = _backups(path)
    assert len(backups) == 3
    assert "retain_days: 5" in backups[-1].read_text()


def test_broken_file_is_a_config_error(write_config: WriteConfig) -> None:
    path = write_config("cameras: [unclosed\n")
    with pytest.raises(ConfigEditRejected, match="YAML error"):
        ConfigEditor(path).edit("x", set_retention(1, 1))
