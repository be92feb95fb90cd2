"""The ``sites`` section: physical places that group cameras."""

from __future__ import annotations

from pydantic import Field

from watchkeeper.config.base import ConfigModel
from watchkeeper.domain import Site, SiteId

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
"""Identifiers of sites and cameras: lower-case letters, digits and dashes, 1 to 63 characters."""


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

    def to_domain(self) -> Site:
        """Return the domain view of this site."""
        return Site(id=SiteId(self.id), name=self.name)
