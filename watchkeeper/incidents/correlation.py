"""Correlation: repeated alarms of one rule and camera within a window merge into one open incident.

Merged alarms are counted in memory and written/announced in batches (:meth:`Correlator.drain`), so a
misbehaving rule raising thousands of alarms a minute costs one row update and one bus message per
``publish_interval`` instead of one per alarm, and no alarm goes uncounted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class PendingAlarms:
    """Alarms merged into an incident since the last drain."""

    incident_id: str
    count: int
    last_at: datetime


@dataclass(slots=True)
class _Tracked:
    """Working state of one correlation key (internal, mutable by design)."""

    incident_id: str
    last_at: datetime
    pending: int = 0
    drained_at: datetime | None = None


class Correlator:
    """Maps correlation keys to the open incident alarms merge into (not thread-safe: callers lock)."""

    def __init__(self, window: timedelta, publish_interval: timedelta) -> None:
        """Merge alarms no further apart than ``window``; drain counts at most every ``publish_interval``."""
        self._window = window
        self._interval = publish_interval
        self._keys: dict[str, _Tracked] = {}
        self._orphans: list[PendingAlarms] = []

    @property
    def window(self) -> timedelta:
        """How far apart two alarms may be and still merge."""
        return self._window

    def match(self, key: str, at: datetime) -> str | None:
        """The incident an alarm with ``key`` at ``at`` merges into, or ``None`` (unknown or too old)."""
        tracked = self._keys.get(key)
        if tracked is None or at - tracked.last_at > self._window:
            return None
        return tracked.incident_id

    def track(self, key: str, incident_id: str, last_at: datetime) -> None:
        """Remember that alarms with ``key`` merge into ``incident_id`` (last alarm at ``last_at``).

        Counts still pending for the incident the key merged into before are kept for the next drain.
        """
        self._set_aside(self._keys.get(key))
        self._keys[key] = _Tracked(incident_id, last_at, drained_at=last_at)

    def _set_aside(self, tracked: _Tracked | None) -> None:
        if tracked is not None and tracked.pending:
            self._orphans.append(PendingAlarms(tracked.incident_id, tracked.pending, tracked.last_at))
            tracked.pending = 0

    def merge(self, key: str, at: datetime) -> str:
        """Count one more alarm for a tracked key; returns its incident id.

        Raises:
            KeyError: If ``key`` is not tracked (call :meth:`match` / :meth:`track` first).
        """
        tracked = self._keys[key]
        tracked.pending += 1
        tracked.last_at = max(tracked.last_at, at)
        return tracked.incident_id

    def forget_incident(self, incident_id: str) -> None:
        """Stop merging into ``incident_id`` (it was resolved or closed); pending counts are still drained."""
        for key in [key for key, tracked in self._keys.items() if tracked.incident_id == incident_id]:
            self._set_aside(self._keys.pop(key))

    def drain(self, now: datetime, *, force: bool = False) -> list[PendingAlarms]:
        """Take the pending counts due for writing (all of them with ``force``) and forget expired keys."""
        drained, self._orphans = self._orphans, []
        for key, tracked in list(self._keys.items()):
            due = force or tracked.drained_at is None or now - tracked.drained_at >= self._interval
            if tracked.pending and due:
                drained.append(PendingAlarms(tracked.incident_id, tracked.pending, tracked.last_at))
                tracked.pending = 0
                tracked.drained_at = now
            if not tracked.pending and now - tracked.last_at > self._window:
                del self._keys[key]
        return drained

    def pending(self) -> int:
        """How many merged alarms are not written yet."""
        kept = sum(item.count for item in self._orphans)
        return kept + sum(tracked.pending for tracked in self._keys.values())
