"""Configuration: one YAML file validated into strict pydantic models (one module per section)."""

from watchkeeper.config.base import ConfigIssue, ConfigModel
from watchkeeper.config.cameras import CameraConfig, CameraInputConfig, MapPositionConfig
from watchkeeper.config.detection import DetectionConfig, MotionConfig
from watchkeeper.config.errors import ConfigError, ConfigProblem
from watchkeeper.config.loader import load_config, parse_config_text
from watchkeeper.config.recording import RecordingConfig
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.config.secrets import SecretUrl, redact_url
from watchkeeper.config.server import ServerConfig
from watchkeeper.config.sites import SiteConfig
from watchkeeper.config.storage import BusConfig, LocalBusConfig, NatsBusConfig, StorageConfig

__all__ = [
    "BusConfig",
    "CameraConfig",
    "CameraInputConfig",
    "ConfigError",
    "ConfigIssue",
    "ConfigModel",
    "ConfigProblem",
    "DetectionConfig",
    "LocalBusConfig",
    "MapPositionConfig",
    "MotionConfig",
    "NatsBusConfig",
    "RecordingConfig",
    "SecretUrl",
    "ServerConfig",
    "SiteConfig",
    "StorageConfig",
    "WatchkeeperConfig",
    "load_config",
    "parse_config_text",
    "redact_url",
]
