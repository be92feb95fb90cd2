"""The ``cameras`` section: cameras, their input streams and map positions."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from watchkeeper.config.base import ConfigModel
from watchkeeper.config.privacy import CameraPrivacyConfig, PrivacyMaskConfig
from watchkeeper.config.secrets import SecretUrl
from watchkeeper.config.sites import SLUG_PATTERN
from watchkeeper.config.zones import RuleConfig, ZoneConfig, check_zones_and_rules
from watchkeeper.domain import Camera, CameraId, MapPosition, SiteId

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https", "file"})
"""URL schemes a camera input may use (a URL without a scheme is a file path)."""

Role = Literal["record", "detect"]
Transport = Literal["tcp", "udp"]


def check_stream_url(url: SecretUrl) -> SecretUrl:
    """Accept rtsp://, rtsps://, http(s)://, file:// URLs and plain file paths.

    Error messages never contain the URL itself (it may hold a password).

    Args:
        url: The parsed URL.

    Returns:
        ``url`` unchanged when valid.

    Raises:
        PydanticCustomError: The scheme is not supported or a network URL has no host.
    """
    raw = url.get_secret_value()
    match = _SCHEME.match(raw)
    if match is None:
        return url
    scheme = match.group("scheme").lower()
    if scheme not in STREAM_SCHEMES:
        raise PydanticCustomError(
            "stream_url_scheme",
            "unsupported URL scheme '{scheme}' (expected rtsp://, rtsps://, http://, https://, file:// "
            "or a file path)",
            {"scheme": scheme},
        )
    if scheme == "file":
        return url
    try:
        host = urlsplit(raw).hostname
    except ValueError as err:
        raise PydanticCustomError("stream_url_host", "URL has an invalid host part") from err
    if not host:
        raise PydanticCustomError("stream_url_host", "{scheme}:// URL has no host", {"scheme": scheme})
    return url


StreamUrl = Annotated[SecretUrl, AfterValidator(check_stream_url)]
"""A camera stream URL: credentials allowed, never shown."""


class CameraInputConfig(ConfigModel):
    """One stream of a camera; a camera records one input and analyses one (possibly the same)."""

    url: StreamUrl = Field(
        title="Stream URL",
        description=(
            "rtsp://, rtsps://, http(s):// or file:// URL, or a file path. May contain credentials "
            "(`rtsp://user:pass@host/...`); the password is never logged or shown."
        ),
    )
    roles: list[Role] = Field(
        title="Roles",
        description="What this input is used for: `record` (remuxed to segments) and/or `detect` (analysed).",
        min_length=1,
        max_length=2,
    )
    transport: Transport = Field(
        default="tcp",
        title="RTSP transport",
        description="Lower transport for RTSP: `tcp` (robust, default) or `udp` (lower latency, may drop).",
    )

    @field_validator("roles")
    @classmethod
    def _roles_unique(cls, roles: list[Role]) -> list[Role]:
        if len(set(roles)) != len(roles):
            raise PydanticCustomError("duplicate_role", "each role may appear only once")
        return roles

    @property
    def redacted_url(self) -> str:
        """The URL with its password replaced by ``***`` (safe to log and show)."""
        return self.url.redacted


class MapPositionConfig(ConfigModel):
    """Where a camera hangs and where it looks, for the map view."""

    lat: float = Field(title="Latitude", description="WGS84 latitude in degrees.", ge=-90, le=90)
    lon: float = Field(title="Longitude", description="WGS84 longitude in degrees.", ge=-180, le=180)
    heading_deg: float | None = Field(
        default=None,
        title="Heading",
        description="Direction the camera looks, degrees clockwise from north.",
        ge=0,
        le=360,
    )
    fov_deg: float | None = Field(
        default=None,
        title="Field of view",
        description="Horizontal field of view in degrees (drawn as a cone on the map).",
        ge=1,
        le=360,
    )
    floor: str | None = Field(
        default=None,
        title="Floor",
        description="Floor or level label for indoor cameras (for example `G` or `2`).",
        min_length=1,
        max_length=50,
    )

    def to_domain(self) -> MapPosition:
        """Return the domain view of this position."""
        return MapPosition(
            lat=self.lat, lon=self.lon, heading_deg=self.heading_deg, fov_deg=self.fov_deg, floor=self.floor
        )


class CameraConfig(ConfigModel):
    """A camera: identity, site, input streams and optional map position."""

    id: str = Field(
        title="Camera id",
        description="Unique slug of the camera across the whole file (used in URLs and storage paths).",
        pattern=SLUG_PATTERN,
        min_length=1,
        max_length=63,
    )
    name: str = Field(
        title="Camera name",
        description="Human-readable name shown in the console.",
        min_length=1,
        max_length=200,
    )
    site: str = Field(
        title="Site",
        description="Id of the site this camera belongs to (must be listed under `sites`).",
        pattern=SLUG_PATTERN,
        min_length=1,
        max_length=63,
    )
    enabled: bool = Field(
        default=True, title="Enabled", description="Disabled cameras are neither recorded nor analysed."
    )
    inputs: list[CameraInputConfig] = Field(
        title="Inputs",
        description=(
            "Streams of this camera: exactly one with role `record` and exactly one with role `detect`."
        ),
        min_length=1,
        max_length=4,
    )
    position: MapPositionConfig | None = Field(
        default=None, title="Map position", description="Where the camera is on the map (optional)."
    )
    retain_days: int | None = Field(
        default=None,
        title="Retention override",
        description="Days this camera's continuous footage is kept; empty uses `recording.retain_days`.",
        ge=0,
        le=3650,
    )
    event_retain_days: int | None = Field(
        default=None,
        title="Event retention override",
        description="Days this camera's event footage is kept; empty uses `recording.event_retain_days`.",
        ge=0,
        le=3650,
    )
    zones: list[ZoneConfig] = Field(
        default_factory=list,
        title="Zones",
        description="Polygons and lines in normalized coordinates (0..1) that rules watch.",
        max_length=100,
    )
    rules: list[RuleConfig] = Field(
        default_factory=list,
        title="Rules",
        description="Zone and line rules that turn tracked objects into events.",
        max_length=100,
    )
    privacy_masks: list[PrivacyMaskConfig] = Field(
        default_factory=list,
        title="Privacy masks",
        description="Polygons (normalized 0..1) whose pixels are destroyed in the protected rendition.",
        max_length=50,
    )
    privacy: CameraPrivacyConfig = Field(
        default_factory=CameraPrivacyConfig,
        title="Privacy",
        description="Privacy switches of this camera (masking its originals).",
    )

    @field_validator("inputs")
    @classmethod
    def _one_input_per_role(cls, inputs: list[CameraInputConfig]) -> list[CameraInputConfig]:
        for role in ("record", "detect"):
            count = sum(role in item.roles for item in inputs)
            if count != 1:
                raise PydanticCustomError(
                    "input_roles",
                    "exactly one input must have role '{role}' (found {count})",
                    {"role": role, "count": count},
                )
        return inputs

    @model_validator(mode="after")
    def _rules_match_zones(self) -> Self:
        check_zones_and_rules(self.zones, self.rules)
        return self

    @property
    def record_input(self) -> CameraInputConfig:
        """The input that is recorded."""
        return next(item for item in self.inputs if "record" in item.roles)

    @property
    def detect_input(self) -> CameraInputConfig:
        """The input that is analysed."""
        return next(item for item in self.inputs if "detect" in item.roles)

    def to_domain(self) -> Camera:
        """Return the domain view of this camera (without credentials)."""
        return Camera(
            id=CameraId(self.id),
            name=self.name,
            site_id=SiteId(self.site),
            position=self.position.to_domain() if self.position else None,
            enabled=self.enabled,
        )
