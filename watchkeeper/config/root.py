"""The root of the configuration file and its cross-section checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from watchkeeper.config.auth import AuthConfig
from watchkeeper.config.base import ConfigIssue, ConfigModel, format_path
from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.cluster import ClusterConfig
from watchkeeper.config.custody import CustodyConfig
from watchkeeper.config.detection import DetectionConfig
from watchkeeper.config.incidents import IncidentsConfig
from watchkeeper.config.integrations import IntegrationsConfig
from watchkeeper.config.privacy import PrivacyConfig
from watchkeeper.config.recording import RecordingConfig
from watchkeeper.config.server import ServerConfig
from watchkeeper.config.sites import SiteConfig
from watchkeeper.config.storage import StorageConfig
from watchkeeper.config.tiers import TiersConfig

REFERENCE_ERROR = "config_reference"
"""Pydantic error type of cross-reference failures; ``ctx["issues"]`` holds the ``ConfigIssue`` items."""


class WatchkeeperConfig(ConfigModel):
    """The whole Watchkeeper configuration file."""

    sites: list[SiteConfig] = Field(
        default_factory=list,
        title="Sites",
        description="Physical sites; every camera names one.",
        max_length=1000,
    )
    cameras: list[CameraConfig] = Field(
        default_factory=list, title="Cameras", description="Cameras to record and analyse.", max_length=10000
    )
    recording: RecordingConfig = Field(
        default_factory=RecordingConfig,
        title="Recording",
        description="Segmenting, retention and reconnection.",
    )
    detection: DetectionConfig = Field(
        default_factory=DetectionConfig,
        title="Detection",
        description="Analysis decode and motion detection.",
    )
    storage: StorageConfig = Field(
        default_factory=StorageConfig, title="Storage", description="Database, media folder and message bus."
    )
    tiers: TiersConfig = Field(
        default_factory=TiersConfig,
        title="Storage tiers",
        description="Moving segments from the local disk (hot) to an S3-compatible bucket (warm).",
    )
    server: ServerConfig = Field(
        default_factory=ServerConfig, title="Server", description="HTTP API and web console."
    )
    auth: AuthConfig = Field(
        default_factory=AuthConfig, title="Authentication", description="Roles, sessions and login backoff."
    )
    incidents: IncidentsConfig = Field(
        default_factory=IncidentsConfig,
        title="Incidents",
        description="Incident types, alarm mappings, correlation, escalation and inbound alarm sources.",
    )
    integrations: IntegrationsConfig = Field(
        default_factory=IntegrationsConfig,
        title="Integrations",
        description="MQTT (with Home Assistant discovery) and outbound webhooks.",
    )
    privacy: PrivacyConfig = Field(
        default_factory=PrivacyConfig,
        title="Privacy",
        description="The protected rendition viewers see: people, faces and privacy masks redacted.",
    )
    cluster: ClusterConfig = Field(
        default_factory=ClusterConfig, title="Cluster", description="Camera leases across worker processes."
    )
    custody: CustodyConfig = Field(
        default_factory=CustodyConfig,
        title="Chain of custody",
        description="Encrypted originals, unmask grants, the audit anchor and evidence exports.",
    )

    @model_validator(mode="after")
    def _check_references(self) -> Self:
        issues = tuple(self.reference_issues())
        if issues:
            summary = "; ".join(f"{format_path(issue.path)}: {issue.message}" for issue in issues)
            raise PydanticCustomError(REFERENCE_ERROR, "{summary}", {"summary": summary, "issues": issues})
        return self

    def reference_issues(self) -> Iterator[ConfigIssue]:
        """Yield every cross-field problem: duplicate ids and cameras naming an unknown site."""
        yield from _duplicates("sites", [site.id for site in self.sites], "site")
        yield from _duplicates("cameras", [camera.id for camera in self.cameras], "camera")
        known = {site.id for site in self.sites}
        listed = ", ".join(repr(site_id) for site_id in sorted(known)) or "none"
        for index, camera in enumerate(self.cameras):
            if camera.site not in known:
                yield ConfigIssue(
                    ("cameras", index, "site"),
                    f"unknown site {camera.site!r} (sites defined: {listed})",
                )
        yield from _incident_references(self, known)

    def camera(self, camera_id: str) -> CameraConfig | None:
        """Return the camera with id ``camera_id``, or None."""
        return next((camera for camera in self.cameras if camera.id == camera_id), None)

    def with_base_dir(self, base_dir: Path) -> WatchkeeperConfig:
        """Return a copy whose relative storage and model paths are resolved against ``base_dir``.

        Args:
            base_dir: Absolute folder of the config file.

        Returns:
            The configuration with absolute storage paths.
        """
        return self.model_copy(
            update={
                "storage": self.storage.resolved(base_dir),
                "detection": self.detection.resolved(base_dir),
                "server": self.server.resolved(base_dir),
                "incidents": self.incidents.resolved(base_dir),
                "custody": self.custody.resolved(base_dir),
                "privacy": self.privacy.resolved(base_dir),
            }
        )


def _duplicates(section: str, ids: list[str], noun: str) -> Iterator[ConfigIssue]:
    first: dict[str, int] = {}
    for index, item_id in enumerate(ids):
        if item_id in first:
            yield ConfigIssue(
                (section, index, "id"),
                f"duplicate {noun} id {item_id!r} (first used at {section}[{first[item_id]}].id)",
            )
        else:
            first[item_id] = index


def _incident_references(config: WatchkeeperConfig, sites: set[str]) -> Iterator[ConfigIssue]:
    """Sites and cameras named by the ``incidents`` section must exist."""
    cameras = {camera.id for camera in config.cameras}
    for index, hours in enumerate(config.incidents.quiet_hours):
        if hours.site not in sites:
            yield ConfigIssue(("incidents", "quiet_hours", index, "site"), f"unknown site {hours.site!r}")
    for index, mapping in enumerate(config.incidents.analytics):
        if mapping.camera is not None and mapping.camera not in cameras:
            yield ConfigIssue(
                ("incidents", "analytics", index, "camera"), f"unknown camera {mapping.camera!r}"
            )
    for index, source in enumerate(config.incidents.inbound):
        if source.site is not None and source.site not in sites:
            yield ConfigIssue(("incidents", "inbound", index, "site"), f"unknown site {source.site!r}")
