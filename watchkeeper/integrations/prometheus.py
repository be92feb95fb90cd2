"""Prometheus exporter: renders a snapshot of Watchkeeper's counters in the Prometheus text format.

Nothing here sits in a hot path. Camera workers count with plain integer adds on their own objects; at
scrape time the exporter asks for a :class:`MetricsSnapshot` and turns it into metric families. Each
exporter has its own ``CollectorRegistry`` (never the process-global default one), so several runtimes
(tests, embedded use) never share or clash over metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from watchkeeper.domain.outbox import OutboxSnapshot

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""``Content-Type`` of the rendered metrics."""

CAMERA_STATES = ("connecting", "streaming", "stalled", "offline")
MAX_REASON_CHARS = 160


@dataclass(frozen=True, slots=True)
class InputSample:
    """Counters of one camera input (``record`` or ``detect``; a shared input counts as ``record``)."""

    role: str
    received_bytes: int
    frames: int
    reconnects: int
    stalls: int


@dataclass(frozen=True, slots=True)
class LagSample:
    """Recorder lag histogram: seconds between a segment's end and its index write."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    """Per bucket (not cumulative), one more than ``bounds`` (the last is +Inf)."""
    sum_s: float
    last_s: float


@dataclass(frozen=True, slots=True)
class CameraSample:
    """Everything exported about one camera."""

    camera_id: str
    state: str
    reason: str
    inputs: tuple[InputSample, ...]
    segments: int
    lag: LagSample


@dataclass(frozen=True, slots=True)
class StorageSample:
    """Size, used and free bytes of the volume holding the media folder."""

    total_bytes: int
    used_bytes: int
    free_bytes: int


@dataclass(frozen=True, slots=True)
class EvictionSample:
    """Footage retention deleted for one reason (days, event days, quota, disk full) since start-up."""

    reason: str
    segments: int
    bytes: int


@dataclass(frozen=True, slots=True)
class RetentionSample:
    """Retention counters since start-up."""

    runs: int
    disk_full_events: int
    failed_files: int
    evictions: tuple[EvictionSample, ...]
    absent_kept: int = 0


@dataclass(frozen=True, slots=True)
class TieringSample:
    """Storage tiering counters since start-up (segments moved from the local disk to the warm bucket)."""

    passes: int
    moved_segments: int
    moved_bytes: int
    failed: int
    retries: int
    checksum_mismatches: int
    leftovers_removed: int = 0


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """What one scrape exports."""

    cameras: tuple[CameraSample, ...]
    storage: StorageSample | None
    retention: RetentionSample | None
    tiering: TieringSample | None = None
    outbox: OutboxSnapshot | None = None


SnapshotSource = Callable[[], MetricsSnapshot]


@dataclass(frozen=True, slots=True)
class NodeLabels:
    """Which process of a cluster the metrics come from: ``watchkeeper_node_info{node, role}``."""

    node: str
    role: str


class _NodeCollector(Collector):
    """Exports the node's id and role, to join on ``instance`` (or to tell nodes apart on one host)."""

    def __init__(self, node: NodeLabels) -> None:
        self._node = node

    def collect(self) -> Iterator[Metric]:
        info = InfoMetricFamily("watchkeeper_node", "This Watchkeeper process: its node id and role.")
        info.add_metric([], {"node": self._node.node, "role": self._node.role})
        yield info


class _SnapshotCollector(Collector):
    """Turns a snapshot into metric families at scrape time."""

    def __init__(self, source: SnapshotSource) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        snapshot = self._source()
        yield from _camera_metrics(snapshot.cameras)
        yield from _storage_metrics(snapshot.storage)
        yield from _retention_metrics(snapshot.retention)
        yield from _tiering_metrics(snapshot.tiering)
        yield from _outbox_metrics(snapshot.outbox)


def _camera_metrics(cameras: tuple[CameraSample, ...]) -> Iterator[Metric]:
    received = CounterMetricFamily(
        "watchkeeper_camera_received_bytes",
        "Bytes of media received from a camera input.",
        labels=("camera", "input"),
    )
    frames = CounterMetricFamily(
        "watchkeeper_camera_frames",
        "Video frames (packets) received from a camera input.",
        labels=("camera", "input"),
    )
    reconnects = CounterMetricFamily(
        "watchkeeper_camera_reconnects",
        "Reconnection attempts of a camera input.",
        labels=("camera", "input"),
    )
    stalls = CounterMetricFamily(
        "watchkeeper_camera_stalls",
        "Times a camera input stalled (no packet or no keyframe in time).",
        labels=("camera", "input"),
    )
    segments = CounterMetricFamily(
        "watchkeeper_camera_segments_written", "Segments written and indexed.", labels=("camera",)
    )
    state = GaugeMetricFamily(
        "watchkeeper_camera_state",
        "1 for the camera's current connection state, 0 for the others.",
        labels=("camera", "state"),
    )
    status = InfoMetricFamily(
        "watchkeeper_camera_status", "The camera's current state and its reason.", labels=("camera",)
    )
    lag = HistogramMetricFamily(
        "watchkeeper_recorder_lag_seconds",
        "Seconds between a segment's end and its index write.",
        labels=("camera",),
    )
    last_lag = GaugeMetricFamily(
        "watchkeeper_recorder_last_lag_seconds", "Recorder lag of the latest segment.", labels=("camera",)
    )
    for camera in cameras:
        for item in camera.inputs:
            labels = [camera.camera_id, item.role]
            received.add_metric(labels, item.received_bytes)
            frames.add_metric(labels, item.frames)
            reconnects.add_metric(labels, item.reconnects)
            stalls.add_metric(labels, item.stalls)
        segments.add_metric([camera.camera_id], camera.segments)
        for name in CAMERA_STATES:
            state.add_metric([camera.camera_id, name], 1.0 if name == camera.state else 0.0)
        status.add_metric(
            [camera.camera_id], {"state": camera.state, "reason": camera.reason[:MAX_REASON_CHARS]}
        )
        lag.add_metric([camera.camera_id], _buckets(camera.lag), sum_value=camera.lag.sum_s)
        last_lag.add_metric([camera.camera_id], camera.lag.last_s)
    yield from (received, frames, reconnects, stalls, segments, state, status, lag, last_lag)


def _buckets(lag: LagSample) -> list[tuple[str, float]]:
    cumulative = 0
    buckets: list[tuple[str, float]] = []
    for bound, count in zip((*lag.bounds, float("inf")), lag.counts, strict=True):
        cumulative += count
        buckets.append(("+Inf" if bound == float("inf") else repr(bound), float(cumulative)))
    return buckets


def _storage_metrics(storage: StorageSample | None) -> Iterator[Metric]:
    if storage is None:
        return
    yield GaugeMetricFamily(
        "watchkeeper_storage_size_bytes", "Size of the media volume.", value=storage.total_bytes
    )
    yield GaugeMetricFamily(
        "watchkeeper_storage_used_bytes",
        "Used bytes of the media volume (by anything).",
        value=storage.used_bytes,
    )
    yield GaugeMetricFamily(
        "watchkeeper_storage_free_bytes", "Free bytes of the media volume.", value=storage.free_bytes
    )


def _retention_metrics(retention: RetentionSample | None) -> Iterator[Metric]:
    if retention is None:
        return
    segments = CounterMetricFamily(
        "watchkeeper_retention_evicted_segments", "Segments deleted by retention.", labels=("reason",)
    )
    size = CounterMetricFamily(
        "watchkeeper_retention_evicted_bytes", "Bytes deleted by retention.", labels=("reason",)
    )
    for item in retention.evictions:
        segments.add_metric([item.reason], item.segments)
        size.add_metric([item.reason], item.bytes)
    yield from (segments, size)
    yield CounterMetricFamily("watchkeeper_retention_runs", "Retention passes.", value=retention.runs)
    yield CounterMetricFamily(
        "watchkeeper_retention_disk_full_events",
        "Times recording found the disk full and evicted footage to go on.",
        value=retention.disk_full_events,
    )
    yield CounterMetricFamily(
        "watchkeeper_retention_failed_files",
        "Files retention could not delete.",
        value=retention.failed_files,
    )
    yield CounterMetricFamily(
        "watchkeeper_retention_absent_kept",
        "Index rows a site worker kept because their hot file is not in its media folder (summed per pass).",
        value=retention.absent_kept,
    )


def _tiering_metrics(tiering: TieringSample | None) -> Iterator[Metric]:
    if tiering is None:
        return
    for name, text, value in (
        ("passes", "Storage tiering passes.", tiering.passes),
        (
            "moved_segments",
            "Segments moved to the warm tier (verified, local copy deleted).",
            tiering.moved_segments,
        ),
        ("moved_bytes", "Bytes moved to the warm tier.", tiering.moved_bytes),
        ("failures", "Segments a tiering pass could not move (kept on the local disk).", tiering.failed),
        ("retries", "Upload tries repeated after a failure.", tiering.retries),
        ("checksum_mismatches", "Uploads whose read-back SHA-256 differed.", tiering.checksum_mismatches),
        (
            "leftovers_removed",
            "Local copies of warm segments left by a crash, verified against the bucket and deleted.",
            tiering.leftovers_removed,
        ),
    ):
        yield CounterMetricFamily(f"watchkeeper_tiering_{name}", text, value=value)


def _outbox_metrics(outbox: OutboxSnapshot | None) -> Iterator[Metric]:
    if outbox is None:
        return
    yield GaugeMetricFamily(
        "watchkeeper_outbox_depth",
        "Index rows and events waiting in the worker's outbox.",
        value=outbox.depth,
    )
    yield GaugeMetricFamily(
        "watchkeeper_outbox_store_reachable",
        "1 while the shared store takes the outbox's writes, 0 from a failed write to the next success.",
        value=1.0 if outbox.store_reachable else 0.0,
    )
    for name, text, value in (
        ("delivered", "Outbox rows written to the store as soon as they came.", outbox.delivered),
        ("replayed", "Outbox rows written after waiting for the store.", outbox.replayed),
        ("refused", "Outbox rows refused because their fencing token was stale.", outbox.refused),
        (
            "quarantined",
            "Files of segments refused as stale moved to the media folder's quarantine.",
            outbox.quarantined,
        ),
        (
            "indexed_stale",
            "Segments refused as stale indexed anyway: nobody else recorded their seconds.",
            outbox.indexed_stale,
        ),
        ("duplicates", "Replayed segment rows that were already indexed.", outbox.duplicates),
        ("dropped", "Outbox rows that could not be written for another reason.", outbox.dropped),
        ("outages", "Times the shared store went away.", outbox.outages),
    ):
        yield CounterMetricFamily(f"watchkeeper_outbox_{name}", text, value=value)
    yield GaugeMetricFamily(
        "watchkeeper_outbox_last_catch_up_rows",
        "Rows replayed in the last catch-up after an outage.",
        value=outbox.last_catch_up_rows,
    )
    yield GaugeMetricFamily(
        "watchkeeper_outbox_last_catch_up_seconds",
        "Seconds from the store's return to an empty outbox, last catch-up.",
        value=outbox.last_catch_up_s,
    )


class PrometheusExporter:
    """A per-runtime registry with Watchkeeper's metrics and the process's own (CPU, memory, fds)."""

    def __init__(
        self, source: SnapshotSource, *, process_metrics: bool = True, node: NodeLabels | None = None
    ) -> None:
        """Export snapshots taken from ``source`` at each scrape (and ``node``'s labels when given)."""
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_SnapshotCollector(source))
        if node is not None:
            self.registry.register(_NodeCollector(node))
        if process_metrics:
            ProcessCollector(namespace="watchkeeper", registry=self.registry)

    def render(self) -> bytes:
        """The current metrics in the Prometheus text exposition format."""
        return generate_latest(self.registry)
