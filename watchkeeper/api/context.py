"""What the API needs at run time, chosen by ``runtime.wiring`` and handed to ``create_app``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchkeeper.api.live import LiveHub, StatusBoard, ViewThrottle
from watchkeeper.auth.passwords import Passwords
from watchkeeper.bus.protocol import Bus
from watchkeeper.config.auth import AuthConfig
from watchkeeper.config.editor import ConfigEditor
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.incidents.service import IncidentService
from watchkeeper.media.protocol import SegmentFiles
from watchkeeper.privacy.live_feed import LiveFeed
from watchkeeper.privacy.services import CustodyServices
from watchkeeper.recorder.hls import LayoutCache
from watchkeeper.storage.protocols import Store


@dataclass(frozen=True, slots=True)
class AppContext:
    """Backends and live state of one API process."""

    store: Store
    bus: Bus
    media_root: Path
    statuses: StatusBoard
    hub: LiveHub
    static_dir: Path | None = None
    version: str = "0.1.0"
    hls_layouts: LayoutCache = field(default_factory=LayoutCache)
    auth_config: AuthConfig = field(default_factory=AuthConfig)
    passwords: Passwords = field(default_factory=Passwords)
    metrics: Callable[[], bytes] | None = None
    """Renders ``GET /metrics`` (Prometheus text format); None turns the endpoint off."""
    incidents: IncidentService | None = None
    """The incident service; None turns the incident routes off (they answer 503)."""
    live_views: ViewThrottle = field(default_factory=ViewThrottle)
    """Decides which ``latest.jpg`` fetches start a live view (those are audited)."""
    custody: CustodyServices | None = None
    """Audit log, unmask grants, encrypted originals and exports; None: originals are never served, the
    grant and export routes answer 503 and nothing is audited."""
    segment_files: SegmentFiles | None = None
    """Reads segments from either storage tier; None: only the local media folder (no warm tier)."""

    @property
    def files(self) -> SegmentFiles:
        """The segment reader (local media folder only when no warm tier is configured)."""
        return self.segment_files if self.segment_files is not None else SegmentFiles(self.media_root)

    live_feed: LiveFeed | None = None
    """Redacted live frames of the cameras this process runs (``None``: the live stream routes answer 404)."""
    config_editor: ConfigEditor | None = None
    """Edits the configuration file (the console's settings pages); None: the settings routes answer 503."""
    on_config_change: Callable[[WatchkeeperConfig, str | None], None] | None = None
    """Applies a written configuration change live: the new configuration and the edited camera's id
    (None when no camera changed). Set by the runtime; None: changes apply at the next restart."""
