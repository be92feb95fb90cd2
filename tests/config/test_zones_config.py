"""Zones and rules in the camera config: geometry checks, cross-references and the red lines."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.config.conftest import GOOD_CONFIG
from watchkeeper.config import ConfigError
from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.loader import parse_config_text
from watchkeeper.config.zones import CountRuleConfig, ZoneConfig, segments_intersect

SQUARE = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]
LINE = [[0.0, 0.5], [1.0, 0.5]]


def camera(zones: list[dict[str, Any]], rules: list[dict[str, Any]]) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "gate",
            "name": "Gate",
            "site": "main",
            "inputs": [{"url": "rtsp://127.0.0.1/x", "roles": ["record", "detect"]}],
            "zones": zones,
            "rules": rules,
        }
    )


@pytest.mark.parametrize(
    ("zone", "error"),
    [
        ({"name": "lane", "polygon": SQUARE}, None),
        ({"name": "gate-line", "line": LINE, "direction": "in"}, None),
        (
            {"name": "lane", "polygon": [[0.1, 0.1], [1.2, 0.1], [0.5, 0.5]]},
            r"zone 'lane': point 1 .* outside",
        ),
        ({"name": "lane", "polygon": [[0.1, -0.1], [1, 0.1], [0.5, 0.5]]}, "outside the frame"),
        ({"name": "bow", "polygon": [[0, 0], [1, 1], [1, 0], [0, 1]]}, r"zone 'bow': .*intersects itself"),
        ({"name": "two", "polygon": [[0, 0], [1, 1]]}, r"zone 'two': .*at least 3 points"),
        ({"name": "flat", "polygon": [[0, 0], [0.5, 0.5], [1, 1]]}, r"zone 'flat': .*no area"),
        ({"name": "odd", "polygon": [[0, 0, 0], [1, 0], [1, 1]]}, r"zone 'odd': point 0 must be \[x, y\]"),
        ({"name": "both", "polygon": SQUARE, "line": LINE}, r"zone 'both': give exactly one"),
        ({"name": "none"}, "exactly one"),
        ({"name": "dot", "line": [[0.5, 0.5], [0.5, 0.5]]}, r"zone 'dot': .*2 distinct points"),
        ({"name": "lane", "polygon": SQUARE, "direction": "in"}, "lines only"),
        ({"name": "Bad Name", "polygon": SQUARE}, "pattern"),
    ],
)
def test_zone_geometry(zone: dict[str, Any], error: str | None) -> None:
    if error is None:
        assert ZoneConfig.model_validate(zone).name == zone["name"]
        return
    with pytest.raises(ValidationError, match=error):
        ZoneConfig.model_validate(zone)


ZONES = [{"name": "lane", "polygon": SQUARE}, {"name": "gate-line", "line": LINE}]


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        ({"name": "r", "type": "enter", "zone": "lane", "classes": ["person"]}, None),
        ({"name": "r", "type": "leave", "zone": "lane"}, None),
        ({"name": "r", "type": "dwell", "zone": "lane", "classes": ["car"], "seconds": 30}, None),
        ({"name": "r", "type": "count", "zone": "lane", "classes": ["car", "truck"], "threshold": 2}, None),
        ({"name": "r", "type": "line_crossing", "zone": "gate-line", "classes": ["car"]}, None),
        ({"name": "r", "type": "enter", "zone": "nowhere"}, r"rule 'r' names unknown zone 'nowhere'"),
        ({"name": "r", "type": "line_crossing", "zone": "lane"}, r"rule 'r' .*needs a line zone"),
        ({"name": "r", "type": "enter", "zone": "gate-line"}, r"needs a polygon zone.*'gate-line'"),
        (
            {
                "name": "r",
                "type": "count",
                "zone": "lane",
                "classes": ["car"],
                "threshold": 2,
                "clear_below": 3,
            },
            "clear_below must not exceed threshold",
        ),
        ({"name": "r", "type": "count", "zone": "lane", "threshold": 2}, "must list its classes"),
        ({"name": "r", "type": "dwell", "zone": "lane", "seconds": 5}, "must list its classes"),
        ({"name": "r", "type": "teleport", "zone": "lane"}, "does not match any of the expected tags"),
        (
            {"name": "r", "type": "enter", "zone": "lane", "filters": {"min_area": 0.5, "max_area": 0.1}},
            "min_area must not exceed max_area",
        ),
        (
            {"name": "r", "type": "enter", "zone": "lane", "filters": {"min_aspect": 3, "max_aspect": 1}},
            "min_aspect must not exceed max_aspect",
        ),
        ({"name": "r", "type": "enter", "zone": "lane", "filters": {"min_score": 2}}, "less than or equal"),
    ],
)
def test_rules(rule: dict[str, Any], error: str | None) -> None:
    if error is None:
        assert camera(ZONES, [rule]).rules[0].type == rule["type"]
        return
    with pytest.raises(ValidationError, match=error):
        camera(ZONES, [rule])


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        (
            {"name": "crowd", "type": "count", "zone": "lane", "classes": ["person"], "threshold": 5},
            r"rule 'crowd': a count rule cannot target person: counting people in a zone is crowd or "
            r"gathering detection\. Watchkeeper does not profile or count people",
        ),
        (
            {
                "name": "mix",
                "type": "count",
                "zone": "lane",
                "classes": ["car", "pedestrian"],
                "threshold": 5,
            },
            "cannot target pedestrian",
        ),
        (
            {"name": "idle", "type": "dwell", "zone": "lane", "classes": ["person"], "seconds": 60},
            r"a dwell rule cannot target person: timing how long people stay is loitering detection",
        ),
        (
            {"name": "c", "type": "crowd", "zone": "lane"},
            r"rule type 'crowd' does not exist: detecting crowds",
        ),
        ({"name": "c", "type": "Loitering", "zone": "lane"}, "rule type 'Loitering' does not exist"),
        (
            {"name": "a", "type": "enter", "zone": "lane", "gender": "female"},
            r"key\(s\) gender describe people's attributes",
        ),
        (
            {"name": "a", "type": "enter", "zone": "lane", "filters": {"Age": 30, "clothing": "red"}},
            r"key\(s\) Age, clothing describe people's attributes",
        ),
    ],
)
def test_red_line_rules_are_rejected_with_the_reason(rule: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        camera(ZONES, [rule])


def test_names_must_be_unique_within_a_camera() -> None:
    with pytest.raises(ValidationError, match="duplicate zone name 'lane'"):
        camera([ZONES[0], ZONES[0]], [])
    rule = {"name": "r", "type": "enter", "zone": "lane"}
    with pytest.raises(ValidationError, match="duplicate rule name 'r'"):
        camera(ZONES, [rule, rule])


def test_count_hysteresis_defaults_to_threshold() -> None:
    rule = CountRuleConfig.model_validate(
        {"name": "r", "type": "count", "zone": "z", "classes": ["car"], "threshold": 3}
    )
    assert rule.end_below == 3
    assert rule.model_copy(update={"clear_below": 1}).end_below == 1


def test_the_loader_names_file_line_and_zone(tmp_path: Path) -> None:
    text = GOOD_CONFIG + (
        "    zones:\n      - name: fire-lane\n        polygon: [[0.1, 0.1], [1.5, 0.1], [0.5, 0.5]]\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text, source="demo.yaml", base_dir=tmp_path)
    message = str(caught.value)
    assert re.search(r"demo\.yaml:\d+: cameras\[0\]\.zones\[0\]", message), message
    assert "zone 'fire-lane': point 1 [1.5, 0.1] is outside the frame" in message


def test_a_config_with_zones_and_rules_loads(tmp_path: Path) -> None:
    text = GOOD_CONFIG + (
        "    zones:\n"
        "      - {name: fire-lane, polygon: [[0, 0.6], [1, 0.6], [1, 1], [0, 1]]}\n"
        "      - {name: gate, line: [[0.5, 0], [0.5, 1]], direction: in}\n"
        "    rules:\n"
        "      - {name: blocked, type: count, zone: fire-lane, classes: [car, truck], threshold: 1}\n"
        "      - {name: entry, type: line_crossing, zone: gate, classes: [person, car]}\n"
    )
    config = parse_config_text(text, source="demo.yaml", base_dir=tmp_path)
    cam = config.cameras[0]
    assert [zone.name for zone in cam.zones] == ["fire-lane", "gate"]
    assert cam.zones[1].is_line
    assert [rule.type for rule in cam.rules] == ["count", "line_crossing"]


@pytest.mark.parametrize(
    ("p1", "p2", "q1", "q2", "expected"),
    [
        ((0, 0), (1, 1), (0, 1), (1, 0), True),
        ((0, 0), (1, 0), (2, 0), (3, 0), False),
        ((0, 0), (2, 0), (1, 0), (3, 0), True),  # collinear overlap
        ((0, 0), (1, 0), (1, 0), (1, 1), True),  # touching end points
        ((0, 0), (1, 0), (0, 1), (1, 1), False),
    ],
)
def test_segments_intersect(
    p1: tuple[float, float],
    p2: tuple[float, float],
    q1: tuple[float, float],
    q2: tuple[float, float],
    expected: bool,
) -> None:
    assert segments_intersect(p1, p2, q1, q2) is expected
