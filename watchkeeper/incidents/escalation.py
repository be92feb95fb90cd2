"""Escalation: unacknowledged incidents go to the next group after a delay per priority, then again.

Quiet hours per site hold back escalations of less urgent incidents until they end. Time comes from the
caller (an injectable clock), so tests never sleep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from watchkeeper.config.incidents import EscalationStepConfig, IncidentsConfig, QuietHoursConfig
from watchkeeper.domain import SiteId
from watchkeeper.domain.incidents import Incident, Priority


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """The next escalation: to ``group`` as level ``level``; the one after is due at ``next_at``."""

    level: int
    group: str
    next_at: datetime | None


@dataclass(frozen=True, slots=True)
class Deferral:
    """Escalation held back by quiet hours until ``until``."""

    until: datetime


class QuietHours:
    """Quiet hours of every site."""

    def __init__(self, config: list[QuietHoursConfig]) -> None:
        """Index the configured quiet hours by site."""
        self._by_site: dict[str, list[QuietHoursConfig]] = {}
        for item in config:
            self._by_site.setdefault(item.site, []).append(item)

    def quiet_until(self, site: SiteId | None, at: datetime, priority: Priority) -> datetime | None:
        """When quiet hours covering ``at`` end for ``priority`` at ``site`` (``None``: not quiet)."""
        if site is None:
            return None
        ends = [
            end
            for item in self._by_site.get(site, [])
            if priority.rank > item.escalate_at_or_above.rank
            for end in [_window_end(item, at)]
            if end is not None
        ]
        return max(ends) if ends else None


def _window_end(item: QuietHoursConfig, at: datetime) -> datetime | None:
    zone = ZoneInfo(item.timezone)
    local = at.astimezone(zone)
    for back in (0, 1):
        day = (local - timedelta(days=back)).date()
        if day.weekday() not in item.days:
            continue
        start = datetime.combine(day, item.start, tzinfo=zone)
        end_day = day if item.end > item.start else day + timedelta(days=1)
        end = datetime.combine(end_day, item.end, tzinfo=zone)
        if start <= local < end:
            return end.astimezone(at.tzinfo)
    return None


class EscalationPolicy:
    """The escalation ladders per priority and the quiet hours per site."""

    def __init__(self, config: IncidentsConfig) -> None:
        """Read ``incidents.escalation`` and ``incidents.quiet_hours``."""
        self._ladders: dict[Priority, list[EscalationStepConfig]] = {
            policy.priority: list(policy.steps) for policy in config.escalation
        }
        self._quiet = QuietHours(config.quiet_hours)

    def first_due(self, priority: Priority, created_at: datetime) -> datetime | None:
        """When a new incident of ``priority`` first escalates if nobody acknowledges it (``None``: never)."""
        ladder = self._ladders.get(priority, [])
        return created_at + timedelta(seconds=ladder[0].after_s) if ladder else None

    def next_step(self, incident: Incident, now: datetime) -> EscalationStep | Deferral | None:
        """What to do with an unacknowledged incident whose escalation is due at ``now``.

        Returns ``None`` when its ladder has no further step, a :class:`Deferral` during quiet hours, else the
        step to take.
        """
        ladder = self._ladders.get(incident.priority, [])
        level = incident.escalation_level
        if level >= len(ladder):
            return None
        quiet_end = self._quiet.quiet_until(incident.site_id, now, incident.priority)
        if quiet_end is not None:
            return Deferral(quiet_end)
        following = ladder[level + 1] if level + 1 < len(ladder) else None
        next_at = now + timedelta(seconds=following.after_s) if following is not None else None
        return EscalationStep(level=level + 1, group=ladder[level].group, next_at=next_at)
