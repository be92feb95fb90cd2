"""Model rules: metadata on every field, defaults, bounds, immutability, cross checks without a file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from watchkeeper.config import (
    CameraConfig,
    ConfigModel,
    DetectionConfig,
    MapPositionConfig,
    RecordingConfig,
    ServerConfig,
    StorageConfig,
    WatchkeeperConfig,
)
from watchkeeper.config.base import format_path


def _schema_properties() -> Iterator[tuple[str, str, dict[str, Any]]]:
    schema = WatchkeeperConfig.model_json_schema()
    models = {"WatchkeeperConfig": schema, **schema["$defs"]}
    for model_name, model_schema in models.items():
        for field, prop in model_schema.get("properties", {}).items():
            yield model_name, field, prop


def _members(prop: dict[str, Any]) -> list[dict[str, Any]]:
    return [member for member in prop.get("anyOf", [prop]) if member.get("type") != "null"]


def _all_models(base: type[ConfigModel] = ConfigModel) -> set[type[ConfigModel]]:
    found: set[type[ConfigModel]] = set()
    for sub in base.__subclasses__():
        found |= {sub, *_all_models(sub)}
    return found


def test_every_model_is_strict_and_frozen() -> None:
    models = _all_models()
    schema = WatchkeeperConfig.model_json_schema()
    object_defs = {name for name, definition in schema["$defs"].items() if "enum" not in definition}
    assert {model.__name__ for model in models} >= object_defs | {"WatchkeeperConfig"}
    for model in models:
        assert model.model_config.get("extra") == "forbid", model
        assert model.model_config.get("frozen") is True, model
        for name, field in model.model_fields.items():
            assert field.title, f"{model.__name__}.{name} has no title"
            assert field.description, f"{model.__name__}.{name} has no description"


@pytest.mark.parametrize(("model", "field", "prop"), list(_schema_properties()))
def test_field_has_title_description_and_bounds(model: str, field: str, prop: dict[str, Any]) -> None:
    assert prop.get("title"), f"{model}.{field} has no title"
    assert len(prop.get("description", "")) >= 10, f"{model}.{field} has no description"
    for member in _members(prop):
        if member.get("type") in ("integer", "number"):
            assert "minimum" in member or "exclusiveMinimum" in member, f"{model}.{field} has no lower bound"
            assert "maximum" in member or "exclusiveMaximum" in member, f"{model}.{field} has no upper bound"
        if member.get("type") == "string" and "enum" not in member and "const" not in member:
            constrained = {"pattern", "minLength", "format"} & member.keys()
            assert constrained, f"{model}.{field} string has no constraint"


def test_defaults() -> None:
    config = WatchkeeperConfig()
    assert config.cameras == []
    assert config.recording == RecordingConfig()
    assert config.recording.segment_seconds == 10
    assert config.recording.retain_days <= 30  # privacy: default retention stays short
    assert config.detection.fps == 5
    assert config.detection.width == 640
    assert config.detection.motion.threshold == 25
    assert config.detection.motion.min_area == 0.001
    assert config.storage.bus.type == "local"
    assert config.server.host == "127.0.0.1"
    assert config.server.port == 8080
    assert config.server.tile_url_template.startswith("/")  # no third-party tile server by default


def test_models_are_immutable() -> None:
    config = RecordingConfig()
    with pytest.raises(ValidationError):
        config.segment_seconds = 20  # type: ignore[misc]


@pytest.mark.parametrize(
    ("model", "data", "error"),
    [
        (RecordingConfig, {"segment_seconds": 0}, "greater than or equal to 1"),
        (RecordingConfig, {"retain_days": 3651}, "less than or equal to 3650"),
        (DetectionConfig, {"fps": 0}, "greater than or equal to 0.1"),
        (DetectionConfig, {"motion": {"min_area": 1.5}}, "less than or equal to 1"),
        (MapPositionConfig, {"lat": 0, "lon": 181}, "less than or equal to 180"),
        (MapPositionConfig, {"lat": 0, "lon": 0, "fov_deg": 0}, "greater than or equal to 1"),
        (ServerConfig, {"tile_url_template": "https://tiles/{z}/{x}.png"}, "lacks placeholder(s) {y}"),
        (ServerConfig, {"public_url": "ftp://x"}, "should match pattern"),
        (StorageConfig, {"bus": {"type": "nats", "stream": "a.b"}}, "should match pattern"),
        (CameraConfig, {"id": "c", "name": "c", "site": "s", "inputs": []}, "at least 1 item"),
        (
            CameraConfig,
            {
                "id": "c",
                "name": "c",
                "site": "s",
                "inputs": [{"url": "/v.mp4", "roles": ["record", "record"]}],
            },
            "each role may appear only once",
        ),
        (
            CameraConfig,
            {
                "id": "c",
                "name": "c",
                "site": "s",
                "inputs": [
                    {"url": "/a.mp4", "roles": ["record", "detect"]},
                    {"url": "/b.mp4", "roles": ["detect"]},
                ],
            },
            "exactly one input must have role 'detect' (found 2)",
        ),
    ],
)
def test_invalid_values(model: type[BaseModel], data: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error.replace("(", r"\(").replace(")", r"\)")):
        model.model_validate(data)


@pytest.mark.parametrize(
    "url",
    ["rtsp://cam/s", "rtsps://cam/s", "http://cam/x.mjpg", "https://cam/x", "file:///v.mp4", "clips/v.mp4"],
)
def test_accepted_stream_urls(url: str) -> None:
    camera = CameraConfig.model_validate(
        {"id": "c", "name": "c", "site": "s", "inputs": [{"url": url, "roles": ["record", "detect"]}]}
    )
    assert camera.record_input.url.get_secret_value() == url


def test_separate_record_and_detect_inputs() -> None:
    camera = CameraConfig.model_validate(
        {
            "id": "c",
            "name": "c",
            "site": "s",
            "inputs": [
                {"url": "rtsp://cam/main", "roles": ["record"]},
                {"url": "rtsp://cam/sub", "roles": ["detect"], "transport": "udp"},
            ],
        }
    )
    assert camera.record_input.url.get_secret_value() == "rtsp://cam/main"
    assert camera.detect_input.transport == "udp"


def test_cross_checks_report_every_issue_with_path() -> None:
    camera = {"name": "c", "inputs": [{"url": "/v.mp4", "roles": ["record", "detect"]}]}
    data = {
        "sites": [{"id": "a", "name": "A"}, {"id": "a", "name": "A again"}],
        "cameras": [{"id": "x", "site": "a", **camera}, {"id": "x", "site": "b", **camera}],
    }
    with pytest.raises(ValidationError) as caught:
        WatchkeeperConfig.model_validate(data)
    issues = caught.value.errors()[0]["ctx"]["issues"]
    assert [format_path(issue.path) for issue in issues] == [
        "sites[1].id",
        "cameras[1].id",
        "cameras[1].site",
    ]


def test_format_path() -> None:
    assert format_path(("cameras", 1, "inputs", 0, "roles", 0)) == "cameras[1].inputs[0].roles[0]"
    assert format_path(()) == ""
