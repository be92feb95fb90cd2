"""Wiring of the parts a node has only with several processes or hosts (split from ``runtime.wiring``).

The store outbox, the holder watches, the site directory and the warm tier's bucket; like ``runtime.wiring``
this module may pick concrete backends (the cluster control).
"""

from __future__ import annotations

import logging
import re
import socket

from watchkeeper.api.live import StatusBoard
from watchkeeper.bus.protocol import Bus
from watchkeeper.cluster.factory import camera_specs, open_control
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.config.tiers import TiersConfig
from watchkeeper.media.protocol import ObjectStore, ObjectStoreError, SegmentFiles
from watchkeeper.media.s3 import S3ObjectStore, S3Settings
from watchkeeper.runtime.holder_watch import HolderTiming, HolderWatch, camera_domains
from watchkeeper.runtime.outbox_journal import OutboxJournal, open_journal
from watchkeeper.runtime.site_media import SiteDirectory

log = logging.getLogger(__name__)


def open_outbox(config: WatchkeeperConfig) -> OutboxJournal:
    """The worker's store outbox: ``<data folder>/outbox/<name>.sqlite`` beside the media folder.

    The name is ``cluster.worker_id``, else ``local`` on one box (local leases), else the host name (the
    next free ``<host>-<n>`` when another worker of the host holds it): stable across restarts, so that rows
    left waiting by one run are replayed by the next.

    Raises:
        OutboxError: The file cannot be opened, or another process runs with the same worker id.
    """
    cluster = config.cluster
    folder = config.storage.media_root.parent / "outbox"
    if cluster.worker_id:
        return open_journal(folder, cluster.worker_id, shared_name=False)
    if cluster.leases == "local":
        return open_journal(folder, "local", shared_name=False)
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())
    return open_journal(folder, host, shared_name=True)


def holder_watch(config: WatchkeeperConfig, bus: Bus, board: StatusBoard) -> list[HolderWatch]:
    """With leased workers: the watch that shows cameras no live worker holds as offline (else none)."""
    if config.cluster.leases != "nats":
        return []  # one process runs every camera: its own statuses say when one stops
    # Every half lease timeout, as the workers' full scans: each read costs one message per camera.
    timing = HolderTiming(config.cluster.lease_timeout_s / 2, config.cluster.lease_timeout_s)
    cameras = [spec.camera_id for spec in camera_specs(config)]
    watch = HolderWatch(lambda: open_control(config), bus, cameras, timing, lambda c: board.get(c).since)
    watch.set_cameras(cameras, camera_domains(config))
    return [watch]


def site_directory(config: WatchkeeperConfig, files: SegmentFiles) -> list[SiteDirectory]:
    """With leased workers and ``cluster.media_secret``: read other sites' hot segments from their workers."""
    if config.cluster.leases != "nats" or config.cluster.media_secret is None:
        return []
    directory = SiteDirectory(config, lambda: open_control(config))
    files.remote = directory
    return [directory]


def build_warm_store(tiers: TiersConfig) -> ObjectStore | None:
    """The warm tier's bucket (``None`` without ``tiers.warm``); creates the bucket when it is missing.

    An unreachable S3 server is logged, not fatal: recording goes on and the tiering loop retries.
    """
    warm = tiers.warm
    if warm is None:
        return None
    bucket = S3ObjectStore(
        S3Settings(
            bucket=warm.bucket,
            access_key_id=warm.access_key_id.get_secret_value(),
            secret_access_key=warm.secret_access_key.get_secret_value(),
            endpoint_url=warm.endpoint_url,
            region=warm.region,
            addressing_style=warm.addressing_style,
            timeout_s=warm.timeout_s,
        )
    )
    try:
        bucket.ensure_bucket()
    except ObjectStoreError as err:
        log.error("warm tier: %s (segments stay on the local disk until it answers)", err)  # noqa: TRY400
    return bucket
