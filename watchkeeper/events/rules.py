"""Rules that turn tracked detections and zones into events: enter, leave, dwell, count and line crossing.

Every rule raises at most one event per track (count rules: one event per time the threshold is passed).
An event starts with an ``EventChange`` of kind ``started`` (``end`` is ``None``) and finishes with one of
kind ``ended`` carrying the end, the peak score and the time of the best frame; instant events (leave, line
crossing) emit both in the same update. Rules see only confirmed tracks that pass their object filter.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from watchkeeper.analyzers.zones import Anchor, CrossingDirection, FrameSize, LineZone, PolygonZone
from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.zones import (
    CountRuleConfig,
    DwellRuleConfig,
    LineCrossingRuleConfig,
    ObjectFilterConfig,
    RuleModel,
    ZoneConfig,
)
from watchkeeper.domain import CameraId, Event, EventKind
from watchkeeper.domain.detections import Detections
from watchkeeper.events.motion import EventChange, EventChangeKind

BoolArray = NDArray[np.bool_]
_LABEL_LIMIT = 200


@dataclass(frozen=True, slots=True)
class RuleEngineSettings:
    """Timing shared by every rule of a camera.

    Attributes:
        track_timeout_s: A track not seen for this long is gone: its open events end at its last sighting.
        exit_frames: Consecutive frames outside a zone (or under a count) before the object counts as gone.
    """

    track_timeout_s: float = 3.0
    exit_frames: int = 2

    def __post_init__(self) -> None:
        """Check the values."""
        if self.track_timeout_s <= 0 or self.exit_frames < 1:
            raise ValueError(
                "need track_timeout_s > 0 and exit_frames >= 1, "
                f"got {self.track_timeout_s} and {self.exit_frames}"
            )


class ObjectFilter:
    """The per-frame part of a rule's object filter: class, area, aspect ratio and score."""

    def __init__(
        self, config: ObjectFilterConfig, class_ids: frozenset[int] | None, frame: FrameSize
    ) -> None:
        """Create the filter; ``class_ids`` of ``None`` accepts every class."""
        self._config = config
        self._class_ids = np.array(sorted(class_ids), dtype=np.int32) if class_ids is not None else None
        self._frame_area = float(frame.area)

    def mask(self, dets: Detections) -> BoolArray:
        """Return ``(N,)`` booleans: true for detections the rule may consider."""
        config = self._config
        size = dets.xyxy[:, 2:] - dets.xyxy[:, :2]
        area = size[:, 0] * size[:, 1] / self._frame_area
        aspect = size[:, 0] / np.maximum(size[:, 1], 1e-6)
        keep = (area >= config.min_area) & (area <= config.max_area)
        keep &= (aspect >= config.min_aspect) & (aspect <= config.max_aspect)
        keep &= dets.confidence >= config.min_score
        if self._class_ids is not None:
            keep &= np.isin(dets.class_id, self._class_ids)
        result: BoolArray = keep
        return result


class Confirmations:
    """Counts, per track, the frames that passed a rule's filter; tracks unseen for a while are forgotten."""

    def __init__(self, frames: int, timeout_s: float) -> None:
        """Confirm a track after ``frames`` passing frames."""
        self._frames = frames
        self._timeout_s = timeout_s
        self._hits: dict[int, int] = {}
        self._seen: dict[int, datetime] = {}

    @property
    def pending(self) -> bool:
        """True while a track has passed the filter but not yet often enough to be confirmed."""
        return any(0 < hits < self._frames for hits in self._hits.values())

    def update(self, track_ids: Sequence[int], at: datetime) -> BoolArray:
        """Count one passing frame for each of ``track_ids``; return which are confirmed."""
        result = np.zeros(len(track_ids), dtype=np.bool_)
        for index, track in enumerate(track_ids):
            self._hits[track] = self._hits.get(track, 0) + 1
            self._seen[track] = at
            result[index] = self._hits[track] >= self._frames
        for track, seen in list(self._seen.items()):
            if (at - seen).total_seconds() > self._timeout_s:
                del self._seen[track]
                del self._hits[track]
        return result


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What every rule needs besides its own config."""

    camera_id: CameraId
    zone: ZoneConfig
    frame: FrameSize
    class_names: tuple[str, ...]
    class_ids: frozenset[int] | None
    settings: RuleEngineSettings


def _track_ids(dets: Detections) -> list[int]:
    if dets.tracker_id is None:
        raise ValueError("rules need tracked detections (tracker_id is None); run the tracker first")
    ids: list[int] = dets.tracker_id.tolist()
    return ids


class Rule(ABC):
    """One configured rule: filters detections, keeps per-track state and yields event changes."""

    def __init__(self, config: RuleModel, context: RuleContext) -> None:
        """Create the rule from its config and the camera's context."""
        self.config = config
        self.context = context
        self._filter = ObjectFilter(config.filters, context.class_ids, context.frame)
        self._confirm = Confirmations(config.filters.confirm_frames, context.settings.track_timeout_s)

    @property
    def confirming(self) -> bool:
        """True while a track is on its way to confirmation: one of the next frames may raise an event."""
        return self._confirm.pending

    def update(self, dets: Detections, at: datetime) -> list[EventChange]:
        """Feed one frame of tracked detections taken at ``at``."""
        candidates = dets[self._filter.mask(dets)]
        confirmed = self._confirm.update(_track_ids(candidates), at)
        return self.step(candidates, confirmed, at)

    @abstractmethod
    def step(self, candidates: Detections, confirmed: BoolArray, at: datetime) -> list[EventChange]:
        """Advance the rule with the filtered detections of one frame (``confirmed`` marks usable ones)."""

    @abstractmethod
    def close(self, at: datetime) -> list[EventChange]:
        """End every open event (camera stopping); ``at`` is the time of the last frame."""

    def class_name(self, class_id: int) -> str:
        """The name of ``class_id`` in the detector's class list."""
        names = self.context.class_names
        return names[class_id] if 0 <= class_id < len(names) else str(class_id)

    def event(self, start: datetime, score: float, best_at: datetime, label: str) -> Event:
        """A new open event of this rule (the caller fills in track, class and the rest with ``replace``)."""
        return Event(
            id=uuid.uuid4().hex,
            camera_id=self.context.camera_id,
            kind=EventKind.ZONE,
            start=start,
            end=None,
            score=min(max(score, 0.0), 1.0),
            label=label[:_LABEL_LIMIT],
            rule=self.config.name,
            zone=self.context.zone.name,
            best_at=best_at,
        )


def _started(event: Event) -> EventChange:
    return EventChange(EventChangeKind.STARTED, event)


def _ended(event: Event) -> EventChange:
    return EventChange(EventChangeKind.ENDED, event)


@dataclass(slots=True)
class Presence:
    """One visit of a track to a polygon zone."""

    class_id: int
    since: datetime
    last_inside: datetime
    last_seen: datetime
    peak: float
    best_at: datetime
    first_outside: datetime | None = None
    outside: int = 0
    event: Event | None = None

    def saw_inside(self, score: float, at: datetime) -> None:
        """Record a frame with the track inside the zone."""
        self.last_inside = at
        self.last_seen = at
        self.outside = 0
        self.first_outside = None
        if score > self.peak:
            self.peak = score
            self.best_at = at

    def saw_outside(self, at: datetime) -> None:
        """Record a frame with the track outside the zone."""
        self.last_seen = at
        self.outside += 1
        if self.first_outside is None:
            self.first_outside = at


class ZoneRule(Rule):
    """Base of enter, leave and dwell rules: follows each track's visit to a polygon zone."""

    def __init__(self, config: RuleModel, context: RuleContext) -> None:
        """Create the rule and its polygon in pixels."""
        super().__init__(config, context)
        zone = context.zone
        self._zone = PolygonZone.from_normalized(zone.points, context.frame, Anchor(zone.anchor))
        self._visits: dict[int, Presence] = {}
        self._done: dict[int, datetime] = {}

    def step(self, candidates: Detections, confirmed: BoolArray, at: datetime) -> list[EventChange]:
        """Advance every visit; see the subclasses for when events start and end."""
        dets = candidates[confirmed]
        inside = self._zone.trigger(dets)
        changes: list[EventChange] = []
        for index, track in enumerate(_track_ids(dets)):
            if track in self._done:
                self._done[track] = at
                continue
            visit = self._visits.get(track)
            if inside[index]:
                score = float(dets.confidence[index])
                if visit is None:
                    visit = Presence(int(dets.class_id[index]), at, at, at, score, at)
                    self._visits[track] = visit
                visit.saw_inside(score, at)
                changes += self.on_inside(track, visit, at)
            elif visit is not None:
                visit.saw_outside(at)
                if visit.outside >= self.context.settings.exit_frames:
                    changes += self._finish(track, self.on_left(track, visit))
        return changes + self._expire(at)

    def close(self, at: datetime) -> list[EventChange]:
        """End the open events of every visit as if the tracks were lost."""
        changes: list[EventChange] = []
        for track, visit in list(self._visits.items()):
            changes += self._finish(track, self.on_lost(visit))
        return changes

    def _finish(self, track: int, changes: list[EventChange]) -> list[EventChange]:
        visit = self._visits.pop(track)
        if visit.event is not None or changes:
            self._done[track] = visit.last_seen
        return changes

    def _expire(self, at: datetime) -> list[EventChange]:
        timeout = self.context.settings.track_timeout_s
        changes: list[EventChange] = []
        for track, visit in list(self._visits.items()):
            if (at - visit.last_seen).total_seconds() > timeout:
                changes += self._finish(track, self.on_lost(visit))
        for track, seen in list(self._done.items()):
            if (at - seen).total_seconds() > timeout:
                del self._done[track]
        return changes

    def open_event(self, track: int, visit: Presence, label: str) -> Event:
        """Build the event of ``visit`` starting when the track entered."""
        event = self.event(visit.since, visit.peak, visit.best_at, label)
        return replace(event, track_id=track, object_class=self.class_name(visit.class_id))

    def end_open(self, visit: Presence) -> list[EventChange]:
        """End the visit's open event, if any, at the last frame the track was inside."""
        if visit.event is None:
            return []
        ended = replace(visit.event, end=visit.last_inside, score=min(visit.peak, 1.0), best_at=visit.best_at)
        return [_ended(ended)]

    def on_inside(self, track: int, visit: Presence, at: datetime) -> list[EventChange]:
        """The track was seen inside the zone at ``at``."""
        return []

    def on_left(self, track: int, visit: Presence) -> list[EventChange]:
        """The track has been outside the zone for ``exit_frames`` frames."""
        return self.end_open(visit)

    def on_lost(self, visit: Presence) -> list[EventChange]:
        """The track vanished (or the camera stops) during the visit."""
        return self.end_open(visit)


class EnterRule(ZoneRule):
    """Event from the first frame a track is inside until it leaves or is lost."""

    def on_inside(self, track: int, visit: Presence, at: datetime) -> list[EventChange]:
        """Open the event on the first frame inside."""
        if visit.event is not None:
            return []
        label = f"{self.class_name(visit.class_id)} entered {self.context.zone.name}"
        visit.event = self.open_event(track, visit, label)
        return [_started(visit.event)]


class LeaveRule(ZoneRule):
    """Instant event when a track that was inside leaves (a track lost inside raises nothing)."""

    def on_left(self, track: int, visit: Presence) -> list[EventChange]:
        """Raise the event: from entering to the first frame seen outside."""
        label = f"{self.class_name(visit.class_id)} left {self.context.zone.name}"
        event = self.open_event(track, visit, label)
        end = visit.first_outside or visit.last_seen
        return [_started(event), _ended(replace(event, end=end))]

    def on_lost(self, visit: Presence) -> list[EventChange]:
        """Nothing: the object was not seen leaving."""
        return []


class DwellRule(ZoneRule):
    """Event for a track inside longer than ``seconds``: starts at entry, raised once the time is up."""

    def on_inside(self, track: int, visit: Presence, at: datetime) -> list[EventChange]:
        """Open the event once the track has been inside for ``seconds``."""
        if visit.event is not None or not isinstance(self.config, DwellRuleConfig):
            return []
        if (at - visit.since).total_seconds() < self.config.seconds:
            return []
        label = (
            f"{self.class_name(visit.class_id)} in {self.context.zone.name} over {self.config.seconds:g} s"
        )
        visit.event = self.open_event(track, visit, label)
        return [_started(visit.event)]


@dataclass(slots=True)
class _CountState:
    event: Event
    peak_count: int
    last_above: datetime
    below: int = 0


class CountRule(Rule):
    """Event while ``threshold`` or more confirmed objects are inside; ends under ``clear_below``."""

    def __init__(self, config: CountRuleConfig, context: RuleContext) -> None:
        """Create the rule and its polygon in pixels."""
        super().__init__(config, context)
        self._count_config = config
        zone = context.zone
        self._zone = PolygonZone.from_normalized(zone.points, context.frame, Anchor(zone.anchor))
        self._state: _CountState | None = None

    def step(self, candidates: Detections, confirmed: BoolArray, at: datetime) -> list[EventChange]:
        """Count the confirmed objects inside and open, update or end the event."""
        dets = candidates[confirmed]
        inside = dets[self._zone.trigger(dets)]
        count = len(inside)
        score = float(inside.confidence.max()) if count else 0.0
        config = self._count_config
        if self._state is None:
            return self._maybe_start(count, score, at)
        state = self._state
        if count >= config.end_below:
            state.below = 0
            state.last_above = at
            if count > state.peak_count:
                state.peak_count = count
                state.event = replace(state.event, best_at=at, object_count=count)
            if score > state.event.score:
                state.event = replace(state.event, score=score)
            return []
        state.below += 1
        if state.below < self.context.settings.exit_frames:
            return []
        return self.close(at)

    def _maybe_start(self, count: int, score: float, at: datetime) -> list[EventChange]:
        config = self._count_config
        if count < config.threshold:
            return []
        classes = ",".join(config.classes)
        label = f"{count} {classes} in {self.context.zone.name} (threshold {config.threshold})"
        event = replace(self.event(at, score, at, label), object_class=classes, object_count=count)
        self._state = _CountState(event, count, at)
        return [_started(event)]

    def close(self, at: datetime) -> list[EventChange]:
        """End the open event at the last frame the count was over the limit."""
        if self._state is None:
            return []
        ended = replace(self._state.event, end=self._state.last_above)
        self._state = None
        return [_ended(ended)]


class LineCrossingRule(Rule):
    """Instant event when a confirmed track crosses the line in the zone's direction (once per track)."""

    def __init__(self, config: LineCrossingRuleConfig, context: RuleContext) -> None:
        """Create the rule and its line in pixels."""
        super().__init__(config, context)
        zone = context.zone
        self._line = LineZone.from_normalized(zone.points, context.frame, Anchor(zone.anchor))
        self._direction = CrossingDirection(zone.direction)
        self._done: dict[int, datetime] = {}

    @property
    def line(self) -> LineZone:
        """The line, with its in and out counts."""
        return self._line

    def step(self, candidates: Detections, confirmed: BoolArray, at: datetime) -> list[EventChange]:
        """Update the line with every filtered track; raise events for confirmed ones that crossed."""
        crossings = self._line.crossings(candidates)
        wanted = {
            CrossingDirection.IN: crossings.crossed_in,
            CrossingDirection.OUT: crossings.crossed_out,
            CrossingDirection.BOTH: crossings.crossed_in | crossings.crossed_out,
        }[self._direction]
        tracks = _track_ids(candidates)
        for track in tracks:
            if track in self._done:
                self._done[track] = at
        changes: list[EventChange] = []
        for index in np.flatnonzero(wanted & confirmed).tolist():
            if tracks[index] in self._done:
                continue
            self._done[tracks[index]] = at
            changes += self._crossed(candidates, index, bool(crossings.crossed_in[index]), at)
        timeout = self.context.settings.track_timeout_s
        self._done = {
            track: seen for track, seen in self._done.items() if (at - seen).total_seconds() <= timeout
        }
        return changes

    def _crossed(self, dets: Detections, index: int, went_in: bool, at: datetime) -> list[EventChange]:
        direction = "in" if went_in else "out"
        name = self.class_name(int(dets.class_id[index]))
        label = f"{name} crossed {self.context.zone.name} ({direction})"
        event = replace(
            self.event(at, float(dets.confidence[index]), at, label),
            track_id=_track_ids(dets)[index],
            object_class=name,
            direction=direction,
        )
        return [_started(event), _ended(replace(event, end=at))]

    def close(self, at: datetime) -> list[EventChange]:
        """Nothing is ever left open by a line."""
        return []


_RULE_TYPES: dict[str, type[Rule]] = {
    "enter": EnterRule,
    "leave": LeaveRule,
    "dwell": DwellRule,
    "count": CountRule,
    "line_crossing": LineCrossingRule,
}


def _class_ids(rule: RuleModel, class_names: Sequence[str]) -> frozenset[int] | None:
    if not rule.classes:
        return None
    index = {name: position for position, name in enumerate(class_names)}
    unknown = [name for name in rule.classes if name not in index]
    if unknown:
        raise ValueError(
            f"rule {rule.name!r}: unknown class(es) {', '.join(unknown)}; the detector's classes are: "
            f"{', '.join(class_names) or 'none'}"
        )
    return frozenset(index[name] for name in rule.classes)


class RuleEngine:
    """Every rule of one camera, fed with the tracker's output frame by frame."""

    def __init__(
        self,
        camera_id: CameraId,
        zones: Sequence[ZoneConfig],
        rules: Sequence[RuleModel],
        frame: FrameSize,
        class_names: Sequence[str],
        settings: RuleEngineSettings | None = None,
    ) -> None:
        """Build the rules; zones and rules come validated from the camera's config.

        Raises:
            ValueError: A rule names a class the detector does not have, or a zone that does not exist.
        """
        chosen = settings or RuleEngineSettings()
        by_name = {zone.name: zone for zone in zones}
        self._rules: list[Rule] = []
        for rule in rules:
            zone = by_name.get(rule.zone)
            if zone is None:
                raise ValueError(f"rule {rule.name!r} names unknown zone {rule.zone!r}")
            context = RuleContext(
                camera_id, zone, frame, tuple(class_names), _class_ids(rule, class_names), chosen
            )
            self._rules.append(_RULE_TYPES[rule.type](rule, context))

    @classmethod
    def for_camera(
        cls,
        camera: CameraConfig,
        frame: FrameSize,
        class_names: Sequence[str],
        settings: RuleEngineSettings | None = None,
    ) -> RuleEngine:
        """Build the engine of ``camera`` for analysis frames of size ``frame``."""
        return cls(CameraId(camera.id), camera.zones, camera.rules, frame, class_names, settings)

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules, in config order."""
        return tuple(self._rules)

    @property
    def confirming(self) -> bool:
        """True while any rule is confirming a track (its next frames may raise an event)."""
        return any(rule.confirming for rule in self._rules)

    def update(self, dets: Detections, at: datetime) -> list[EventChange]:
        """Feed the tracked detections of one analysed frame taken at ``at`` (aware UTC).

        Raises:
            ValueError: ``dets`` carry no ``tracker_id``.
        """
        _track_ids(dets)
        changes: list[EventChange] = []
        for rule in self._rules:
            changes += rule.update(dets, at)
        return changes

    def close(self, at: datetime) -> list[EventChange]:
        """End every open event (the camera stops or disconnects)."""
        changes: list[EventChange] = []
        for rule in self._rules:
            changes += rule.close(at)
        return changes
