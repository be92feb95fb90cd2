"""What the API needs at run time, chosen by ``runtime.wiring`` and handed to ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.bus.protocol import Bus
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
