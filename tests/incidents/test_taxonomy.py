"""The shipped taxonomy and the red line: no assembly, protest, petition, religion, crowds or people."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from watchkeeper.config.incidents import IncidentsConfig, red_line_reason
from watchkeeper.domain.incidents import IncidentCategory
from watchkeeper.incidents.errors import TaxonomyError, UnknownIncidentTypeError
from watchkeeper.incidents.taxonomy import SHIPPED_TYPES, IncidentType, Taxonomy, red_line_breaches


def test_shipped_types_are_safety_property_and_equipment_only() -> None:
    assert {item.category for item in SHIPPED_TYPES} == set(IncidentCategory)
    assert set(IncidentCategory) == {
        IncidentCategory.SAFETY,
        IncidentCategory.PROPERTY,
        IncidentCategory.EQUIPMENT,
    }
    codes = {item.code for item in SHIPPED_TYPES}
    assert {"FIRE_SMOKE", "MEDICAL", "PERSON_FALLEN", "INTRUSION_AFTER_HOURS", "VEHICLE_FIRE_LANE"} <= codes
    assert {
        "BREAK_IN",
        "GATE_OPEN",
        "CAMERA_OFFLINE",
        "CAMERA_TAMPERED",
        "STORAGE_FAILURE",
        "RECORDING_GAP",
    } <= codes
    assert all(item.sop for item in SHIPPED_TYPES)


def test_shipped_types_cross_no_red_line() -> None:
    assert red_line_breaches(SHIPPED_TYPES) == []


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"code": "PROTEST", "name": "Protest on site", "category": "safety"}, "protest"),
        ({"code": "CROWD_FORMING", "name": "Crowd forming", "category": "safety"}, "crowd"),
        ({"code": "PETITION_DESK", "name": "Petition signing", "category": "property"}, "petition"),
        ({"code": "PRAYER_ROOM", "name": "Religious gathering", "category": "safety"}, "religio"),
        ({"code": "ASSEMBLY", "name": "Unlawful assembly", "category": "safety"}, "assembl"),
        ({"code": "GENDER_ZONE", "name": "Wrong gender in zone", "category": "safety"}, "gender"),
        ({"code": "FACE_MATCH", "name": "Face match", "category": "safety"}, "face"),
        ({"code": "ETHNIC_PROFILE", "name": "Profile", "category": "safety"}, "ethnic"),
        (
            {
                "code": "LEAK",
                "name": "Leak",
                "category": "safety",
                "sop": ["Check the identity of bystanders"],
            },
            "identity",
        ),
        ({"code": "RIOT", "name": "Riot", "category": "public_order"}, "category"),
    ],
)
def test_config_validator_rejects_red_line_types_with_the_reason(
    entry: dict[str, object], reason: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        IncidentsConfig.model_validate({"types": [entry]})
    assert reason in str(caught.value).lower()


@pytest.mark.parametrize(
    ("mapping", "reason"),
    [
        ({"type": "GATE_OPEN", "label": "person"}, "person"),
        ({"type": "GATE_OPEN", "zone": "protest-square"}, "protest"),
        ({"type": "GATE_OPEN", "rule": "crowd_count"}, "crowd"),
        ({"type": "GATE_OPEN", "rule": "female-detected"}, "person's identity or attributes"),
        ({"type": "GATE_OPEN", "label": "skin-tone"}, "skin"),
    ],
)
def test_config_validator_rejects_rules_keyed_to_people(mapping: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        IncidentsConfig.model_validate({"analytics": [mapping]})
    assert reason in str(caught.value)


def test_ordinary_types_and_rules_are_accepted() -> None:
    config = IncidentsConfig.model_validate(
        {
            "types": [
                {"code": "FLOOD", "name": "Water leak", "category": "equipment", "sop": ["Shut the valve"]}
            ],
            "analytics": [{"type": "VEHICLE_FIRE_LANE", "zone": "fire-lane", "label": "car"}],
        }
    )
    taxonomy = Taxonomy.from_config(config)
    assert taxonomy.get("FLOOD").sop == ("Shut the valve",)
    assert red_line_reason("Fire in the loading bay") is None


def test_a_config_type_replaces_the_shipped_one() -> None:
    config = IncidentsConfig.model_validate(
        {"types": [{"code": "GATE_OPEN", "name": "Gate ajar", "category": "property", "priority": "low"}]}
    )
    assert Taxonomy.from_config(config).get("GATE_OPEN").name == "Gate ajar"


def test_mappings_must_name_known_types() -> None:
    config = IncidentsConfig.model_validate({"analytics": [{"type": "NOPE_TYPE", "zone": "x"}]})
    with pytest.raises(TaxonomyError, match="NOPE_TYPE"):
        Taxonomy.from_config(config)
    with pytest.raises(UnknownIncidentTypeError, match="known:"):
        Taxonomy(SHIPPED_TYPES).get("NOPE_TYPE")


def test_taxonomy_refuses_red_line_types_built_in_code() -> None:
    bad = IncidentType(
        "DEMO", "Demonstration in the car park", IncidentCategory.SAFETY, SHIPPED_TYPES[0].priority, ()
    )
    with pytest.raises(TaxonomyError, match="demonstration"):
        Taxonomy((*SHIPPED_TYPES, bad))
