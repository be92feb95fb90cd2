"""The ``incidents`` section: extra incident types, alarm mappings, correlation, escalation, inbound sources.

Red line: Watchkeeper tracks safety, property and equipment incidents only. The validator refuses any type
or rule about assembly, protest, petition, religion or crowds, and any rule keyed to a person's identity or
attributes (:func:`red_line_reason` says why).
"""

from __future__ import annotations

import os
import re
from datetime import time
from pathlib import Path
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator

from watchkeeper.config.base import ConfigModel
from watchkeeper.config.sites import SLUG_PATTERN
from watchkeeper.domain.events import EventKind
from watchkeeper.domain.incidents import IncidentCategory, Priority

TYPE_CODE_PATTERN = r"^[A-Z][A-Z0-9_]{1,39}$"
"""Incident type codes: upper-case letters, digits and ``_`` (for example ``FIRE_SMOKE``)."""

_FORBIDDEN_TOPICS = re.compile(
    r"\b(?:assembl\w*|protest\w*|petition\w*|religio\w*|worship\w*|prayer\w*|crowd\w*|demonstrat\w*"
    r"|rall(?:y|ies)|gathering\w*|picket\w*|politic\w*|trade union\w*)",
    re.IGNORECASE,
)
_PERSON_ATTRIBUTES = re.compile(
    r"\b(?:identity|identities|identif\w*|face|faces|facial|gender|sex|male|female|race|racial|ethnic\w*"
    r"|skin|age|nationality|hijab|turban|beard|clothing|disabilit\w*|person_id|watchlist\w*|biometric\w*)\b",
    re.IGNORECASE,
)


def red_line_reason(text: str) -> str | None:
    """Why ``text`` (a type code, name, SOP or rule field) crosses the red line, or ``None`` when it does not.

    Refused: anything about assembly, protest, petition, religion or crowds (what people do together is
    not an incident), and anything keyed to a person's identity or attributes (who someone is or what they
    look like is not an incident).
    """
    words = text.replace("_", " ").replace("-", " ")
    topic = _FORBIDDEN_TOPICS.search(words)
    if topic is not None:
        return (
            f"{text!r} is about {topic.group(0).lower()!r}: incidents cover safety, property and equipment "
            "only, never assembly, protest, petition, religion or crowds"
        )
    attribute = _PERSON_ATTRIBUTES.search(words)
    if attribute is not None:
        return (
            f"{text!r} refers to {attribute.group(0).lower()!r}: no incident type or rule may be keyed to a "
            "person's identity or attributes"
        )
    return None


def _check_red_line(values: list[str]) -> None:
    for value in values:
        reason = red_line_reason(value)
        if reason is not None:
            raise ValueError(reason)


class IncidentTypeConfig(ConfigModel):
    """An incident type added to (or replacing one of) the shipped taxonomy."""

    code: str = Field(
        title="Code", description="Unique code, upper case (`FIRE_SMOKE`).", pattern=TYPE_CODE_PATTERN
    )
    name: str = Field(title="Name", description="Name shown to operators.", min_length=1, max_length=120)
    category: IncidentCategory = Field(
        title="Category", description="`safety`, `property` or `equipment` (nothing else exists)."
    )
    priority: Priority = Field(
        default=Priority.MEDIUM, title="Default priority", description="Priority of a new incident."
    )
    sop: list[str] = Field(
        default_factory=list,
        title="SOP steps",
        description="Checklist handlers tick (or skip with a reason), in order.",
        max_length=50,
    )
    auto_close: bool = Field(
        default=False,
        title="Auto-close",
        description="Close the incident by itself when the alarm clears (equipment alarms).",
    )

    @model_validator(mode="after")
    def _red_line(self) -> Self:
        _check_red_line([self.code, self.name, *self.sop])
        return self


class AnalyticsMappingConfig(ConfigModel):
    """Which analytics events raise which incident type (the most specific match wins; first on a tie)."""

    type: str = Field(
        title="Incident type", description="Code of the incident type.", pattern=TYPE_CODE_PATTERN
    )
    rule: str | None = Field(
        default=None,
        title="Rule",
        description="Rule name to match (any when unset).",
        min_length=1,
        max_length=100,
    )
    zone: str | None = Field(
        default=None,
        title="Zone",
        description="Zone name to match (any when unset).",
        min_length=1,
        max_length=100,
    )
    camera: str | None = Field(
        default=None, title="Camera", description="Camera id to match (any when unset).", pattern=SLUG_PATTERN
    )
    kind: EventKind | None = Field(
        default=None,
        title="Event kind",
        description="Event kind to match; `motion` events raise incidents only through a mapping naming it.",
    )
    label: str | None = Field(
        default=None,
        title="Label",
        description="Object label to match (`car`).",
        min_length=1,
        max_length=100,
    )

    @model_validator(mode="after")
    def _red_line(self) -> Self:
        _check_red_line([value for value in (self.rule, self.zone, self.label) if value])
        if self.label is not None and self.label.lower() in ("person", "people", "human", "face"):
            raise ValueError(
                f"label {self.label!r}: map a zone or rule (place and time), not a person; no incident rule "
                "may be keyed to people themselves"
            )
        return self


class EscalationStepConfig(ConfigModel):
    """One step of an escalation ladder."""

    after_s: int = Field(
        title="After (s)", description="Seconds unacknowledged since the previous step.", ge=1, le=86400
    )
    group: str = Field(title="Group", description="Team id to escalate to.", pattern=SLUG_PATTERN)


class EscalationPolicyConfig(ConfigModel):
    """The escalation ladder of one priority."""

    priority: Priority = Field(title="Priority level", description="Priority this ladder applies to.")
    steps: list[EscalationStepConfig] = Field(
        title="Steps",
        description="Escalations in order while still unacknowledged.",
        min_length=1,
        max_length=10,
    )


class TeamConfig(ConfigModel):
    """A group of users incidents are assigned and escalated to."""

    id: str = Field(title="Team id", description="Unique slug.", pattern=SLUG_PATTERN)
    name: str = Field(title="Name", description="Name shown to operators.", min_length=1, max_length=120)
    members: list[str] = Field(
        default_factory=list, title="Members", description="Usernames.", max_length=500
    )


class QuietHoursConfig(ConfigModel):
    """Hours of a site during which only urgent incidents escalate; the others wait for the end."""

    site: str = Field(title="Site", description="Site id the quiet hours apply to.", pattern=SLUG_PATTERN)
    start: time = Field(title="Start", description="Local start time (`22:00`).")
    end: time = Field(title="End", description="Local end time (`06:00`; before start means overnight).")
    timezone: str = Field(
        default="UTC",
        title="Time zone",
        description="IANA zone of the site (`Europe/Paris`).",
        min_length=1,
        max_length=64,
    )
    days: list[int] = Field(
        default_factory=lambda: list(range(7)),
        title="Days",
        description="Weekdays on which the quiet hours start (0 = Monday).",
        max_length=7,
    )
    escalate_at_or_above: Priority = Field(
        default=Priority.CRITICAL,
        title="Still escalate",
        description="Priorities at or above this one escalate even during quiet hours.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {value!r}") from err
        return value

    @field_validator("days")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(not 0 <= day <= 6 for day in value):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return value


class InboundSourceConfig(ConfigModel):
    """An external system (fire panel, access control) allowed to post alarms to ``/api/alarms/inbound``."""

    id: str = Field(
        title="Source id", description="Sent in the `X-Watchkeeper-Source` header.", pattern=SLUG_PATTERN
    )
    secret: SecretStr = Field(
        title="Secret", description="HMAC-SHA256 key shared with the source (never shown).", min_length=16
    )
    default_type: str = Field(
        title="Default type",
        description="Incident type when the alarm names none.",
        pattern=TYPE_CODE_PATTERN,
    )
    allowed_types: list[str] = Field(
        default_factory=list,
        title="Allowed types",
        description="Types it may raise (empty: any).",
        max_length=100,
    )
    site: str | None = Field(
        default=None, title="Site", description="Site of its alarms.", pattern=SLUG_PATTERN
    )
    max_skew_s: int = Field(
        default=300,
        title="Replay window (s)",
        description="Oldest accepted signature timestamp.",
        ge=5,
        le=3600,
    )


def _default_escalation() -> list[EscalationPolicyConfig]:
    return [
        EscalationPolicyConfig(
            priority=Priority.CRITICAL,
            steps=[
                EscalationStepConfig(after_s=60, group="supervisors"),
                EscalationStepConfig(after_s=120, group="managers"),
            ],
        ),
        EscalationPolicyConfig(
            priority=Priority.HIGH, steps=[EscalationStepConfig(after_s=300, group="supervisors")]
        ),
    ]


class IncidentsConfig(ConfigModel):
    """Incidents: taxonomy extensions, alarm sources, correlation, escalation and quiet hours."""

    types: list[IncidentTypeConfig] = Field(
        default_factory=list,
        title="Extra incident types",
        description="Added to the shipped types; a shipped code here replaces the shipped definition.",
        max_length=500,
    )
    analytics: list[AnalyticsMappingConfig] = Field(
        default_factory=list,
        title="Analytics mappings",
        description="Which analytics events raise which incident type; unmapped events raise nothing.",
        max_length=1000,
    )
    correlation_window_s: int = Field(
        default=300,
        title="Correlation window (s)",
        description="Repeated alarms of one rule and camera within this time merge into one incident.",
        ge=1,
        le=86400,
    )
    publish_interval_s: float = Field(
        default=1.0,
        title="Alarm count publish interval (s)",
        description="Merged alarms are counted at once and announced at most this often per incident.",
        ge=0.05,
        le=60.0,
    )
    camera_offline_grace_s: int = Field(
        default=60,
        title="Camera offline grace (s)",
        description="A camera offline or stalled this long raises a camera-offline incident.",
        ge=0,
        le=86400,
    )
    recording_gap_s: int = Field(
        default=60,
        title="Recording gap (s)",
        description=(
            "A streaming camera that records no segment for this long, or a gap this long between two "
            "of its segments, raises a recording-gap incident; keep it above `recording.segment_seconds`."
        ),
        ge=2,
        le=86400,
    )
    storage_alarm_free_bytes: int = Field(
        default=64 * 1024 * 1024,
        title="Disk-full alarm (bytes free)",
        description=(
            "Less free space than this on the media volume raises a storage-failure incident, closed "
            "when space is back (0: only when the volume cannot be read)."
        ),
        ge=0,
        le=2**50,
    )
    escalation: list[EscalationPolicyConfig] = Field(
        default_factory=_default_escalation,
        title="Escalation",
        description="Per priority: who is told, after how long, while an incident stays unacknowledged.",
        max_length=4,
    )
    teams: list[TeamConfig] = Field(
        default_factory=list, title="Teams", description="Groups to assign and escalate to.", max_length=500
    )
    quiet_hours: list[QuietHoursConfig] = Field(
        default_factory=list, title="Quiet hours", description="Per-site quiet hours.", max_length=1000
    )
    inbound: list[InboundSourceConfig] = Field(
        default_factory=list,
        title="Inbound alarm sources",
        description="External systems allowed to post signed alarms.",
        max_length=200,
    )
    caller_key_file: Path | None = Field(
        default=None,
        title="Caller key file",
        description=(
            "AES-256 key encrypting phone-in caller details, created (mode 0600) on first run; default "
            "`keys/incidents.key` beside the media folder."
        ),
    )

    @model_validator(mode="after")
    def _unique(self) -> Self:
        for name, ids in (
            ("types", [item.code for item in self.types]),
            ("teams", [item.id for item in self.teams]),
            ("inbound", [item.id for item in self.inbound]),
            ("escalation", [item.priority.value for item in self.escalation]),
        ):
            seen = {value for value in ids if ids.count(value) > 1}
            if seen:
                raise ValueError(f"{name}: duplicate {', '.join(sorted(seen))}")
        return self

    def resolved(self, base_dir: Path) -> IncidentsConfig:
        """Return a copy whose relative key file path resolves against ``base_dir`` (pure path arithmetic)."""
        path = self.caller_key_file
        if path is None or path.is_absolute():
            return self
        return self.model_copy(update={"caller_key_file": Path(os.path.normpath(base_dir / path))})
