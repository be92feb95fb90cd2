"""Zones and rules of a camera: polygons and lines in normalized coordinates, and the rules that watch them.

Red lines are enforced here, at load time: there is no rule type for gatherings of people ("crowd",
"loitering", ...), a ``count`` or ``dwell`` rule cannot target people, and keys that describe people's
attributes (age, gender, clothing, ...) are rejected with the reason, not just as unknown keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from watchkeeper.config.base import ConfigModel
from watchkeeper.config.sites import SLUG_PATTERN

PERSON_CLASSES = frozenset({"person", "people", "pedestrian", "human", "face", "head", "rider", "crowd"})
"""Class names that mean people; rules that count people or time how long they stay are not built."""

FORBIDDEN_RULE_TYPES = frozenset(
    {"crowd", "crowding", "gathering", "assembly", "loitering", "loiter", "occupancy", "people_count"}
)
"""Rule types people ask for that Watchkeeper deliberately does not have (gatherings of people)."""

ATTRIBUTE_KEYS = frozenset(
    {
        "age",
        "attribute",
        "attributes",
        "beard",
        "clothes",
        "clothing",
        "emotion",
        "ethnicity",
        "expression",
        "face",
        "gender",
        "glasses",
        "hair",
        "identity",
        "mood",
        "race",
        "religion",
        "sex",
        "skin",
    }
)
"""Keys that describe a person rather than an object; never accepted anywhere in a rule."""

_RED_LINE_NOTE = (
    "Watchkeeper does not profile or count people (see 'What Watchkeeper will never do' in README)"
)
_POINT = 2
_TRIANGLE = 3
_EPS = 1e-12

ClassName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9 _-]{0,62}$")]


def _zone_error(name: str, message: str, **context: Any) -> PydanticCustomError:
    return PydanticCustomError("zone_geometry", "zone '{zone}': " + message, {"zone": name, **context})


class ZoneConfig(ConfigModel):
    """A named polygon or line, drawn in normalized coordinates (0..1 of frame width and height)."""

    name: str = Field(
        title="Zone name",
        description="Slug naming the zone, unique within the camera; rules refer to it.",
        pattern=SLUG_PATTERN,
    )
    polygon: list[list[float]] | None = Field(
        default=None,
        title="Polygon",
        description="At least 3 `[x, y]` points in 0..1, in drawing order, edges not crossing each other.",
        max_length=100,
    )
    line: list[list[float]] | None = Field(
        default=None,
        title="Line",
        description="Exactly 2 `[x, y]` points in 0..1 for line-crossing rules (give `polygon` or `line`).",
        max_length=2,
    )
    direction: Literal["in", "out", "both"] = Field(
        default="both",
        title="Crossing direction",
        description=(
            "Lines only: which crossings count. `in` is from the left-hand to the right-hand side of the "
            "line as seen on screen walking from its first point to its second; `out` the other way."
        ),
    )
    anchor: Literal["bottom_center", "center", "top_center"] = Field(
        default="bottom_center",
        title="Anchor",
        description="Point of an object's box that must be inside the zone (bottom centre: where it stands).",
    )

    @model_validator(mode="after")
    def _check_geometry(self) -> Self:
        if (self.polygon is None) == (self.line is None):
            raise _zone_error(self.name, "give exactly one of 'polygon' or 'line'")
        points = self.polygon if self.polygon is not None else self.line
        for index, point in enumerate(points or ()):
            _check_point(self.name, index, point)
        if self.polygon is not None:
            _check_polygon(self.name, self.polygon)
        elif self.line is not None:
            if len(self.line) != _POINT or self.line[0] == self.line[1]:
                raise _zone_error(self.name, "a line needs exactly 2 distinct points")
        if self.polygon is not None and self.direction != "both":
            raise _zone_error(self.name, "'direction' applies to lines only")
        return self

    @property
    def is_line(self) -> bool:
        """True for a line zone, false for a polygon."""
        return self.line is not None

    @property
    def points(self) -> list[list[float]]:
        """The polygon or line points (normalized)."""
        return self.line if self.line is not None else (self.polygon or [])


def _check_point(zone: str, index: int, point: Sequence[float]) -> None:
    if len(point) != _POINT:
        raise _zone_error(
            zone, "point {index} must be [x, y], got {count} numbers", index=index, count=len(point)
        )
    if not all(0.0 <= value <= 1.0 for value in point):
        raise _zone_error(
            zone,
            "point {index} [{x}, {y}] is outside the frame (coordinates are fractions from 0 to 1)",
            index=index,
            x=point[0],
            y=point[1],
        )


def _cross(o: Sequence[float], a: Sequence[float], b: Sequence[float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _on_segment(p: Sequence[float], q: Sequence[float], r: Sequence[float]) -> bool:
    """Whether ``r`` (collinear with p-q) lies on the segment p-q."""
    return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(p[1], q[1])


def segments_intersect(
    p1: Sequence[float], p2: Sequence[float], q1: Sequence[float], q2: Sequence[float]
) -> bool:
    """Whether segments p1-p2 and q1-q2 share a point (touching and collinear overlap included)."""
    d1, d2 = _cross(q1, q2, p1), _cross(q1, q2, p2)
    d3, d4 = _cross(p1, p2, q1), _cross(p1, p2, q2)
    if ((d1 > _EPS and d2 < -_EPS) or (d1 < -_EPS and d2 > _EPS)) and (
        (d3 > _EPS and d4 < -_EPS) or (d3 < -_EPS and d4 > _EPS)
    ):
        return True
    checks = ((d1, q1, q2, p1), (d2, q1, q2, p2), (d3, p1, p2, q1), (d4, p1, p2, q2))
    return any(abs(d) <= _EPS and _on_segment(a, b, c) for d, a, b, c in checks)


def _polygon_edges(points: Sequence[Sequence[float]]) -> Iterator[tuple[int, int]]:
    """Index pairs (i, j) of edges that are not neighbours, each pair once."""
    count = len(points)
    for i in range(count):
        for j in range(i + 1, count):
            if j == i + 1 or (i == 0 and j == count - 1):
                continue
            yield i, j


def _check_polygon(zone: str, points: Sequence[Sequence[float]]) -> None:
    count = len(points)
    if count < _TRIANGLE:
        raise _zone_error(zone, "a polygon needs at least 3 points, got {count}", count=count)
    for i, j in _polygon_edges(points):
        if segments_intersect(points[i], points[(i + 1) % count], points[j], points[(j + 1) % count]):
            raise _zone_error(
                zone,
                "the polygon intersects itself (edge {a} crosses edge {b}); list the points in drawing order",
                a=i,
                b=j,
            )
    area = sum(_cross((0.0, 0.0), points[i], points[(i + 1) % count]) for i in range(count)) / 2
    if abs(area) <= _EPS:
        raise _zone_error(zone, "the polygon has no area (its points are on one line)")


class ObjectFilterConfig(ConfigModel):
    """Which detections a rule considers; areas are fractions of the frame, aspect is width / height."""

    min_area: float = Field(
        default=0.0, title="Minimum area", description="Smallest box, fraction of frame.", ge=0, le=1
    )
    max_area: float = Field(
        default=1.0, title="Maximum area", description="Largest box, fraction of frame.", ge=0, le=1
    )
    min_aspect: float = Field(
        default=0.0, title="Minimum aspect", description="Smallest box width / height.", ge=0, le=100
    )
    max_aspect: float = Field(
        default=100.0, title="Maximum aspect", description="Largest box width / height.", ge=0, le=100
    )
    min_score: float = Field(
        default=0.5, title="Minimum score", description="Smallest detector confidence (0-1).", ge=0, le=1
    )
    confirm_frames: int = Field(
        default=3,
        title="Confirmation frames",
        description="Frames an object must pass the filter before the rule considers it.",
        ge=1,
        le=100,
    )

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        if self.min_area > self.max_area:
            raise PydanticCustomError("filter_range", "min_area must not exceed max_area")
        if self.min_aspect > self.max_aspect:
            raise PydanticCustomError("filter_range", "min_aspect must not exceed max_aspect")
        return self


class _RuleBase(ConfigModel):
    name: str = Field(
        title="Rule name", description="Slug naming the rule, unique within the camera.", pattern=SLUG_PATTERN
    )
    zone: str = Field(
        title="Zone", description="Name of the zone (of this camera) the rule watches.", pattern=SLUG_PATTERN
    )
    classes: list[ClassName] = Field(
        default_factory=list,
        title="Classes",
        description="Object classes the rule applies to (detector class names); empty means every class.",
        max_length=100,
    )
    filters: ObjectFilterConfig = Field(
        default_factory=ObjectFilterConfig,
        title="Filters",
        description="Size, shape, score and confirmation.",
    )


def _no_people(rule: str, kind: str, classes: Sequence[str], why: str) -> None:
    if not classes:
        raise PydanticCustomError(
            "rule_classes",
            "rule '{rule}': a {kind} rule must list its classes (it may not apply to people)",
            {"rule": rule, "kind": kind},
        )
    people = sorted(set(classes) & PERSON_CLASSES)
    if people:
        raise PydanticCustomError(
            "red_line",
            "rule '{rule}': a {kind} rule cannot target {people}: {why}. {note}",
            {"rule": rule, "kind": kind, "people": ", ".join(people), "why": why, "note": _RED_LINE_NOTE},
        )


class EnterRuleConfig(_RuleBase):
    """An event per object from when it enters the zone until it leaves."""

    type: Literal["enter"] = Field(title="Rule type", description="`enter`: object entered the zone.")


class LeaveRuleConfig(_RuleBase):
    """An event when an object that was in the zone leaves it."""

    type: Literal["leave"] = Field(title="Rule type", description="`leave`: object left the zone.")


class DwellRuleConfig(_RuleBase):
    """An event per object that stays in the zone longer than ``seconds`` (objects only, never people)."""

    type: Literal["dwell"] = Field(title="Rule type", description="`dwell`: object stayed too long.")
    seconds: float = Field(
        title="Dwell time",
        description="Seconds an object must stay before the event starts.",
        ge=0.5,
        le=86400,
    )

    @model_validator(mode="after")
    def _not_people(self) -> Self:
        _no_people(self.name, "dwell", self.classes, "timing how long people stay is loitering detection")
        return self


class CountRuleConfig(_RuleBase):
    """An event while ``threshold`` or more objects (never people) are in the zone: cars in a fire lane."""

    type: Literal["count"] = Field(title="Rule type", description="`count`: too many objects in the zone.")
    threshold: int = Field(
        title="Threshold", description="Objects in the zone that start the event.", ge=1, le=1000
    )
    clear_below: int | None = Field(
        default=None,
        title="Clear below",
        description="The event ends when fewer objects than this remain (hysteresis); default `threshold`.",
        ge=1,
        le=1000,
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        _no_people(
            self.name, "count", self.classes, "counting people in a zone is crowd or gathering detection"
        )
        if self.clear_below is not None and self.clear_below > self.threshold:
            raise PydanticCustomError(
                "count_hysteresis",
                "rule '{rule}': clear_below must not exceed threshold",
                {"rule": self.name},
            )
        return self

    @property
    def end_below(self) -> int:
        """The count under which an ongoing event ends."""
        return self.clear_below if self.clear_below is not None else self.threshold


class LineCrossingRuleConfig(_RuleBase):
    """An event per object crossing a line zone in the zone's direction."""

    type: Literal["line_crossing"] = Field(title="Rule type", description="`line_crossing`: crossed a line.")


def _attribute_keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key.lower() in ATTRIBUTE_KEYS:
                yield key
            yield from _attribute_keys(item)


def reject_red_line_rules(value: Any) -> Any:
    """Refuse rule types for gatherings of people and keys describing people's attributes, saying why.

    Args:
        value: The raw rule mapping from the file.

    Returns:
        ``value`` unchanged.

    Raises:
        PydanticCustomError: The rule crosses a red line.
    """
    if not isinstance(value, dict):
        return value
    name = value.get("name", "?")
    kind = value.get("type")
    if isinstance(kind, str) and kind.lower() in FORBIDDEN_RULE_TYPES:
        raise PydanticCustomError(
            "red_line",
            "rule '{rule}': rule type '{kind}' does not exist: detecting crowds, gatherings or loitering of "
            "people is deliberately not built. {note}",
            {"rule": name, "kind": kind, "note": _RED_LINE_NOTE},
        )
    keys = sorted(set(_attribute_keys(value)))
    if keys:
        raise PydanticCustomError(
            "red_line",
            "rule '{rule}': key(s) {keys} describe people's attributes, which Watchkeeper never estimates or "
            "filters on. {note}",
            {"rule": name, "keys": ", ".join(keys), "note": _RED_LINE_NOTE},
        )
    return value


RuleConfig = Annotated[
    EnterRuleConfig | LeaveRuleConfig | DwellRuleConfig | CountRuleConfig | LineCrossingRuleConfig,
    Field(discriminator="type"),
    BeforeValidator(reject_red_line_rules),
]
"""One rule of a camera, chosen by ``type``."""

RuleModel = EnterRuleConfig | LeaveRuleConfig | DwellRuleConfig | CountRuleConfig | LineCrossingRuleConfig
"""The validated rule classes (for type annotations)."""


def check_zones_and_rules(zones: Sequence[ZoneConfig], rules: Sequence[RuleModel]) -> None:
    """Cross-check one camera's zones and rules: unique names, known zones, the right kind of zone.

    Raises:
        PydanticCustomError: A problem, naming the zone or rule.
    """
    by_name: dict[str, ZoneConfig] = {}
    for item in zones:
        if item.name in by_name:
            raise PydanticCustomError("zone_name", "duplicate zone name '{zone}'", {"zone": item.name})
        by_name[item.name] = item
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise PydanticCustomError("rule_name", "duplicate rule name '{rule}'", {"rule": rule.name})
        seen.add(rule.name)
        zone = by_name.get(rule.zone)
        if zone is None:
            known = ", ".join(repr(name) for name in sorted(by_name)) or "none"
            raise PydanticCustomError(
                "rule_zone",
                "rule '{rule}' names unknown zone '{zone}' (zones of this camera: {known})",
                {"rule": rule.name, "zone": rule.zone, "known": known},
            )
        wants_line = rule.type == "line_crossing"
        if wants_line != zone.is_line:
            need = "a line" if wants_line else "a polygon"
            raise PydanticCustomError(
                "rule_zone",
                "rule '{rule}' ({kind}) needs {need} zone, but zone '{zone}' is not one",
                {"rule": rule.name, "kind": rule.type, "need": need, "zone": rule.zone},
            )
