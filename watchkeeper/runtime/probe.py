"""``watchkeeper config check --probe``: try to open every configured camera input once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from watchkeeper.config.cameras import CameraInputConfig
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.domain import WatchkeeperError
from watchkeeper.sources.probe import probe_url


class CameraProbeError(WatchkeeperError):
    """At least one camera input could not be opened."""

    code = "camera_unreachable"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The outcome for one input (never carries credentials)."""

    camera_id: str
    redacted_url: str
    ok: bool
    detail: str


def _probe(camera_id: str, item: CameraInputConfig) -> ProbeResult:
    found = probe_url(item.url.get_secret_value(), item.redacted_url, item.transport)
    detail = found.detail if found.ok else found.detail.split(": ", 1)[-1]
    return ProbeResult(camera_id, item.redacted_url, ok=found.ok, detail=detail)


def probe_cameras(config: WatchkeeperConfig) -> list[ProbeResult]:
    """Open each input of each enabled camera (in parallel) and report what answered."""
    jobs = [(camera.id, item) for camera in config.cameras if camera.enabled for item in camera.inputs]
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(jobs)))) as pool:
        return list(pool.map(lambda job: _probe(*job), jobs))
