"""The ``sites`` section: physical places that group cameras, with optional indoor floor plans."""

from __future__ import annotations

from typing import Self

from pydantic import Field, field_validator, model_validator

from watchkeeper.config.base import ConfigModel
from watchkeeper.domain import Site, SiteId

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
"""Identifiers of sites and cameras: lower-case letters, digits and dashes, 1 to 63 characters."""
FLOOR_IMAGE_PATTERN = r"^[a-z0-9][a-z0-9.-]{0,120}\.(png|jpg)$"
"""File names of floor plan images in the media folder's ``floorplans/`` (written by the upload)."""


class FloorConfig(ConfigModel):
    """An indoor floor of a site: a plan image placed on the map by its south-west and north-east corners."""

    id: str = Field(
        title="Floor id",
        description="Slug of the floor, unique within its site; cameras name it in `position.floor`.",
        pattern=SLUG_PATTERN,
        min_length=1,
        max_length=63,
    )
    name: str = Field(
        title="Floor name", description="Shown on the map's floor switcher.", min_length=1, max_length=80
    )
    image: str = Field(
        title="Plan image",
        description="File in the media folder's `floorplans/` (set by the console's upload).",
        pattern=FLOOR_IMAGE_PATTERN,
    )
    south: float = Field(title="South edge", description="Latitude of the plan's bottom edge.", ge=-90, le=90)
    west: float = Field(title="West edge", description="Longitude of the plan's left edge.", ge=-180, le=180)
    north: float = Field(title="North edge", description="Latitude of the plan's top edge.", ge=-90, le=90)
    east: float = Field(title="East edge", description="Longitude of the plan's right edge.", ge=-180, le=180)

    @model_validator(mode="after")
    def _corners_in_order(self) -> Self:
        if self.south >= self.north:
            raise ValueError("south must be below north (south < north)")
        if self.west >= self.east:
            raise ValueError("west must be left of east (west < east)")
        return self


class SiteConfig(ConfigModel):
    """A physical site (campus, building, depot) that groups cameras."""

    id: str = Field(
        title="Site id",
        description="Unique slug of the site, referenced by `cameras[].site`.",
        pattern=SLUG_PATTERN,
        min_length=1,
        max_length=63,
    )
    name: str = Field(
        title="Site name",
        description="Human-readable name shown in the console.",
        min_length=1,
        max_length=200,
    )
    floors: list[FloorConfig] = Field(
        default_factory=list,
        title="Floors",
        description="Indoor floor plans of the site, bottom floor first (the map's floor switcher order).",
        max_length=100,
    )

    @field_validator("floors")
    @classmethod
    def _unique_floors(cls, floors: list[FloorConfig]) -> list[FloorConfig]:
        seen: set[str] = set()
        for floor in floors:
            if floor.id in seen:
                raise ValueError(f"duplicate floor id {floor.id!r}")
            seen.add(floor.id)
        return floors

    def floor(self, floor_id: str) -> FloorConfig | None:
        """The floor ``floor_id`` of this site, or None."""
        return next((floor for floor in self.floors if floor.id == floor_id), None)

    def to_domain(self) -> Site:
        """Return the domain view of this site."""
        return Site(id=SiteId(self.id), name=self.name)
