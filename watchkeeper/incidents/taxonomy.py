"""The coded incident taxonomy: the shipped safety, property and equipment types, extendable from config."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from watchkeeper.config.incidents import IncidentsConfig, IncidentTypeConfig, red_line_reason
from watchkeeper.domain.incidents import IncidentCategory, Priority
from watchkeeper.incidents.errors import TaxonomyError, UnknownIncidentTypeError


@dataclass(frozen=True, slots=True)
class IncidentType:
    """One coded incident type with its default priority and SOP checklist."""

    code: str
    name: str
    category: IncidentCategory
    priority: Priority
    sop: tuple[str, ...]
    auto_close: bool = False

    @classmethod
    def from_config(cls, config: IncidentTypeConfig) -> IncidentType:
        """The type a config entry defines."""
        return cls(
            code=config.code,
            name=config.name,
            category=config.category,
            priority=config.priority,
            sop=tuple(config.sop),
            auto_close=config.auto_close,
        )


_SAFETY = IncidentCategory.SAFETY
_PROPERTY = IncidentCategory.PROPERTY
_EQUIPMENT = IncidentCategory.EQUIPMENT

CAMERA_OFFLINE: Final = "CAMERA_OFFLINE"
"""Code of the equipment alarm raised when a camera stays offline or stalled past the grace period."""
CAMERA_TAMPERED: Final = "CAMERA_TAMPERED"
"""Code of the equipment alarm raised by tamper detection (covered, dark, defocused, moved)."""
STORAGE_FAILURE: Final = "STORAGE_FAILURE"
"""Code of the equipment alarm raised when the media volume is full or unreadable."""
RECORDING_GAP: Final = "RECORDING_GAP"
"""Code of the equipment alarm raised when a camera's recording has a gap."""

SHIPPED_TYPES: Final[tuple[IncidentType, ...]] = (
    IncidentType(
        "FIRE_SMOKE",
        "Fire or smoke",
        _SAFETY,
        Priority.CRITICAL,
        (
            "Verify on camera",
            "Call the fire service",
            "Trigger the evacuation plan",
            "Meet responders at the gate",
        ),
    ),
    IncidentType(
        "MEDICAL",
        "Medical emergency",
        _SAFETY,
        Priority.CRITICAL,
        ("Call emergency medical services", "Send a first-aider", "Guide responders to the location"),
    ),
    IncidentType(
        "PERSON_FALLEN",
        "Person fallen (operator-reported)",
        _SAFETY,
        Priority.HIGH,
        ("Send a first-aider", "Call emergency medical services if needed", "Record the location hazard"),
    ),
    IncidentType(
        "INTRUSION_AFTER_HOURS",
        "Intrusion into a closed area after hours",
        _PROPERTY,
        Priority.HIGH,
        ("Verify on camera", "Dispatch a patrol", "Call the police if confirmed"),
    ),
    IncidentType(
        "VEHICLE_FIRE_LANE",
        "Vehicle in a fire lane",
        _SAFETY,
        Priority.MEDIUM,
        ("Verify on camera", "Ask the driver to move or call towing"),
    ),
    IncidentType(
        "BREAK_IN",
        "Break-in or vandalism",
        _PROPERTY,
        Priority.HIGH,
        ("Verify on camera", "Dispatch a patrol", "Call the police", "Lock the evidence footage"),
    ),
    IncidentType(
        "GATE_OPEN",
        "Unattended gate open",
        _PROPERTY,
        Priority.MEDIUM,
        ("Verify on camera", "Send someone to close the gate"),
    ),
    IncidentType(
        CAMERA_OFFLINE,
        "Camera offline",
        _EQUIPMENT,
        Priority.MEDIUM,
        ("Check the camera's power and network", "Open a maintenance ticket"),
        auto_close=True,
    ),
    IncidentType(
        CAMERA_TAMPERED,
        "Camera tampered",
        _EQUIPMENT,
        Priority.HIGH,
        ("Verify the view", "Dispatch a patrol", "Open a maintenance ticket"),
    ),
    IncidentType(
        STORAGE_FAILURE,
        "Storage failure",
        _EQUIPMENT,
        Priority.HIGH,
        ("Check disk space and health", "Open a maintenance ticket"),
        auto_close=True,
    ),
    IncidentType(
        RECORDING_GAP,
        "Recording gap",
        _EQUIPMENT,
        Priority.LOW,
        ("Check the camera and the recorder logs", "Note the missing range"),
        auto_close=True,
    ),
)
"""The types Watchkeeper ships: safety, property and equipment only."""


def red_line_breaches(types: Iterable[IncidentType]) -> list[str]:
    """The reasons any of ``types`` crosses the red line (empty when none does)."""
    reasons: list[str] = []
    for item in types:
        for text in (item.code, item.name, *item.sop):
            reason = red_line_reason(text)
            if reason is not None:
                reasons.append(f"{item.code}: {reason}")
    return reasons


class Taxonomy:
    """The incident types in force: the shipped ones, extended or replaced by the configuration."""

    def __init__(self, types: Iterable[IncidentType]) -> None:
        """Index ``types`` by code (a later type with the same code replaces the earlier one).

        Raises:
            TaxonomyError: If a type crosses the red line.
        """
        by_code: dict[str, IncidentType] = {}
        for item in types:
            by_code[item.code] = item
        breaches = red_line_breaches(by_code.values())
        if breaches:
            raise TaxonomyError("; ".join(breaches))
        self._types: Mapping[str, IncidentType] = MappingProxyType(by_code)

    @classmethod
    def from_config(cls, config: IncidentsConfig) -> Taxonomy:
        """The shipped types plus ``incidents.types``; every code the config refers to must exist.

        Raises:
            TaxonomyError: If a mapping or inbound source names a type that does not exist.
        """
        taxonomy = cls((*SHIPPED_TYPES, *(IncidentType.from_config(item) for item in config.types)))
        named = [mapping.type for mapping in config.analytics]
        for source in config.inbound:
            named += [source.default_type, *source.allowed_types]
        unknown = sorted({code for code in named if code not in taxonomy})
        if unknown:
            raise TaxonomyError(f"incidents: unknown incident type(s) {', '.join(unknown)}")
        return taxonomy

    def __contains__(self, code: object) -> bool:
        return code in self._types

    def get(self, code: str) -> IncidentType:
        """The type with ``code``.

        Raises:
            UnknownIncidentTypeError: If there is none.
        """
        found = self._types.get(code)
        if found is None:
            known = ", ".join(sorted(self._types))
            raise UnknownIncidentTypeError(f"unknown incident type {code!r} (known: {known})")
        return found

    def all(self) -> list[IncidentType]:
        """Every type ordered by category then code."""
        order = list(IncidentCategory)
        return sorted(self._types.values(), key=lambda item: (order.index(item.category), item.code))
