"""Typed identifiers."""

from typing import NewType

CameraId = NewType("CameraId", str)
"""A camera's slug, unique across the whole installation (for example ``gate-north``)."""

SiteId = NewType("SiteId", str)
"""A site's slug (for example ``campus-main``)."""
