"""Build camera leases from the configuration; only ``runtime.wiring`` imports this module."""

from __future__ import annotations

import os
import socket
from dataclasses import replace

from watchkeeper.cluster.errors import ClusterError
from watchkeeper.cluster.local import LocalCameraLeases
from watchkeeper.cluster.model import CameraSpec, WorkerId, WorkerInfo
from watchkeeper.cluster.nats import BucketSettings, LeaseTiming, NatsCameraLeases, NatsClusterControl
from watchkeeper.cluster.nats.bucket import DEFAULT_URL
from watchkeeper.cluster.nats.sites import SitesClusterControl
from watchkeeper.cluster.protocol import CameraLeases, ClusterControl
from watchkeeper.cluster.rebalance import RebalancePolicy
from watchkeeper.config.cluster import ClusterConfig
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.config.storage import NatsBusConfig
from watchkeeper.domain import CameraId, SiteId


def default_worker_id(host: str | None = None, pid: int | None = None) -> WorkerId:
    """``<hostname>-<pid>`` with characters NATS keys do not allow replaced by ``_``."""
    name = host if host is not None else socket.gethostname()
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_" for ch in name) or "host"
    return WorkerId(f"{safe[:80]}-{pid if pid is not None else os.getpid()}")


def worker_info(
    config: ClusterConfig, version: str, host: str | None = None, http_url: str | None = None
) -> WorkerInfo:
    """What this process advertises, from the ``cluster`` section (``http_url``: its HTTP port's URL)."""
    hostname = host if host is not None else socket.gethostname()
    return WorkerInfo(
        worker_id=WorkerId(config.worker_id) if config.worker_id else default_worker_id(hostname),
        host=hostname,
        capacity=config.capacity,
        hardware=config.hardware,
        site=None if config.site is None else SiteId(config.site),
        version=version,
        http_url=http_url,
    )


def advertised_http_url(config: WatchkeeperConfig, port: int) -> str:
    """The URL API nodes reach this worker's HTTP port at: ``cluster.http_url``, else from ``server``."""
    if config.cluster.http_url is not None:
        return config.cluster.http_url
    host = config.server.host
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - a wildcard is listened on, never advertised
        host = socket.gethostname()
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if config.server.tls is not None else "http"
    return f"{scheme}://{host}:{port}"


def camera_specs(config: WatchkeeperConfig) -> list[CameraSpec]:
    """The enabled cameras of the configuration, pinned to their sites when ``pin_cameras_to_sites``."""
    pin = config.cluster.pin_cameras_to_sites
    return [
        CameraSpec(camera_id=CameraId(camera.id), site=SiteId(camera.site) if pin else None)
        for camera in config.cameras
        if camera.enabled
    ]


def nats_url(config: WatchkeeperConfig) -> str:
    """``cluster.url``, else the bus URL when the bus is NATS, else the local default."""
    if config.cluster.url is not None:
        return config.cluster.url.get_secret_value()
    if isinstance(config.storage.bus, NatsBusConfig):
        return config.storage.bus.url.get_secret_value()
    return DEFAULT_URL


def bucket_settings(config: WatchkeeperConfig) -> BucketSettings:
    """Where the lease bucket is, with request timeouts no longer than a heartbeat."""
    heartbeat = config.cluster.heartbeat_s
    return BucketSettings(
        url=nats_url(config),
        bucket=config.cluster.bucket,
        request_timeout_s=min(2.0, max(0.5, heartbeat)),
    )


def lease_timing(config: ClusterConfig) -> LeaseTiming:
    """Heartbeat and lease timeout of the ``cluster`` section."""
    return LeaseTiming(heartbeat_s=config.heartbeat_s, lease_timeout_s=config.lease_timeout_s)


def open_leases(config: WatchkeeperConfig) -> CameraLeases:
    """The camera leases chosen by ``cluster.leases`` (not started: call ``start(info, cameras)``)."""
    if config.cluster.leases == "nats":
        rebalance = RebalancePolicy(config.cluster.rebalance, config.cluster.rebalance_min_imbalance)
        return NatsCameraLeases(bucket_settings(config), lease_timing(config.cluster), rebalance)
    return LocalCameraLeases()


async def open_control(config: WatchkeeperConfig) -> ClusterControl:
    """A connected operator's view of the cluster (``cluster status``, ``worker drain``).

    Raises:
        ClusterError: when ``cluster.leases`` is ``local`` (there is no shared cluster to look at).
        ClusterUnavailableError: when NATS cannot be reached.
    """
    if config.cluster.leases != "nats":
        raise ClusterError(
            "cluster.leases is 'local': this installation is a single box with no worker cluster "
            "(set cluster.leases: nats on every node to run workers on several hosts)"
        )
    bus = config.storage.bus
    if isinstance(bus, NatsBusConfig) and bus.sources:
        # A hub node: every site keeps its leases in its own JetStream domain.
        here = bucket_settings(config)
        sites = [replace(here, domain=source.domain) for source in bus.sources]
        return await SitesClusterControl.open(sites, config.cluster.lease_timeout_s)
    return await NatsClusterControl.open(bucket_settings(config), config.cluster.lease_timeout_s)
