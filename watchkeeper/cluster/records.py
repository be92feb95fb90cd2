"""What the lease bucket holds: worker heartbeats, camera leases and drain requests, as versioned JSON.

Keys: ``workers.<worker id>``, ``leases.<camera id>``, ``drain.<worker id>``. Times are integer
microseconds since the Unix epoch (UTC) in fields named ``*_us``, from the writer's clock: they are for
people reading the status; a worker decides expiry from when it saw a revision change on its own
monotonic clock, never from another host's clock.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from watchkeeper.cluster.errors import ClusterError
from watchkeeper.cluster.model import FencingToken, WorkerId, WorkerInfo
from watchkeeper.domain import CameraId, SiteId

RECORD_VERSION: Final = 1
WORKER_PREFIX: Final = "workers."
LEASE_PREFIX: Final = "leases."
DRAIN_PREFIX: Final = "drain."


class RecordFormatError(ClusterError):
    """A value in the lease bucket is not a record this version can read."""

    code = "cluster_record_format"


def now_us() -> int:
    """Wall-clock microseconds since the Unix epoch."""
    return time.time_ns() // 1000


def from_us(value: int) -> datetime:
    """The UTC datetime of ``value`` microseconds since the Unix epoch."""
    return datetime.fromtimestamp(value / 1_000_000, tz=UTC)


def next_token(previous: FencingToken | None) -> FencingToken:
    """The token of a new acquisition: above ``previous`` and at least the wall clock in milliseconds.

    The clock term keeps tokens rising even when the bucket (and so ``previous``) was lost and recreated.
    """
    floor = time.time_ns() // 1_000_000
    return FencingToken(max(floor, 0 if previous is None else previous + 1))


@dataclass(frozen=True, slots=True)
class WorkerRecord:
    """A worker's heartbeat: what it advertises and when it last wrote."""

    info: WorkerInfo
    heartbeat_us: int
    started_us: int


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """A camera's lease; ``owner`` None means released (free to take at once)."""

    camera_id: CameraId
    owner: WorkerId | None
    token: FencingToken
    acquired_us: int
    renewed_us: int
    handover_to: WorkerId | None = None

    def renewed(self, at_us: int, handover_to: WorkerId | None) -> LeaseRecord:
        """This lease renewed at ``at_us`` (same owner and token)."""
        return replace(self, renewed_us=at_us, handover_to=handover_to)


@dataclass(frozen=True, slots=True)
class DrainRecord:
    """An operator's request that a worker hand its cameras over and take no new ones."""

    worker_id: WorkerId
    requested_us: int


def worker_key(worker_id: WorkerId) -> str:
    """Bucket key of a worker's heartbeat."""
    return WORKER_PREFIX + worker_id


def lease_key(camera_id: CameraId) -> str:
    """Bucket key of a camera's lease."""
    return LEASE_PREFIX + camera_id


def drain_key(worker_id: WorkerId) -> str:
    """Bucket key of a drain request."""
    return DRAIN_PREFIX + worker_id


def _dump(kind: str, body: dict[str, Any]) -> bytes:
    return json.dumps({"v": RECORD_VERSION, "kind": kind, **body}, separators=(",", ":")).encode()


def _load(raw: bytes, kind: str) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RecordFormatError(f"unreadable {kind} record: {err}") from err
    if not isinstance(body, dict) or body.get("kind") != kind:
        raise RecordFormatError(f"expected a {kind} record")
    if body.get("v") != RECORD_VERSION:
        raise RecordFormatError(f"{kind} record version {body.get('v')!r} is not {RECORD_VERSION}")
    return body


def encode_worker(record: WorkerRecord) -> bytes:
    """JSON bytes of a worker heartbeat."""
    info = record.info
    return _dump(
        "worker",
        {
            "worker_id": info.worker_id,
            "host": info.host,
            "capacity": info.capacity,
            "hardware": info.hardware,
            "site": info.site,
            "version": info.version,
            "http_url": info.http_url,
            "heartbeat_us": record.heartbeat_us,
            "started_us": record.started_us,
        },
    )


def _optional_text(value: object) -> str | None:
    return None if value is None else str(value)


def decode_worker(raw: bytes) -> WorkerRecord:
    """A worker heartbeat from JSON bytes.

    Raises:
        RecordFormatError: when the bytes are not a worker record of this version.
    """
    body = _load(raw, "worker")
    try:
        site = body["site"]
        info = WorkerInfo(
            worker_id=WorkerId(str(body["worker_id"])),
            host=str(body["host"]),
            capacity=int(body["capacity"]),
            hardware=str(body["hardware"]),
            site=None if site is None else SiteId(str(site)),
            version=str(body["version"]),
            http_url=_optional_text(body.get("http_url")),
        )
        return WorkerRecord(info, int(body["heartbeat_us"]), int(body["started_us"]))
    except (KeyError, TypeError, ValueError) as err:
        raise RecordFormatError(f"bad worker record: {err}") from err


def encode_lease(record: LeaseRecord) -> bytes:
    """JSON bytes of a camera lease."""
    return _dump(
        "lease",
        {
            "camera_id": record.camera_id,
            "owner": record.owner,
            "token": record.token,
            "acquired_us": record.acquired_us,
            "renewed_us": record.renewed_us,
            "handover_to": record.handover_to,
        },
    )


def _optional_worker(value: object) -> WorkerId | None:
    return None if value is None else WorkerId(str(value))


def decode_lease(raw: bytes) -> LeaseRecord:
    """A camera lease from JSON bytes.

    Raises:
        RecordFormatError: when the bytes are not a lease record of this version.
    """
    body = _load(raw, "lease")
    try:
        return LeaseRecord(
            camera_id=CameraId(str(body["camera_id"])),
            owner=_optional_worker(body["owner"]),
            token=FencingToken(int(body["token"])),
            acquired_us=int(body["acquired_us"]),
            renewed_us=int(body["renewed_us"]),
            handover_to=_optional_worker(body.get("handover_to")),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise RecordFormatError(f"bad lease record: {err}") from err


def encode_drain(record: DrainRecord) -> bytes:
    """JSON bytes of a drain request."""
    return _dump("drain", {"worker_id": record.worker_id, "requested_us": record.requested_us})


def decode_drain(raw: bytes) -> DrainRecord:
    """A drain request from JSON bytes.

    Raises:
        RecordFormatError: when the bytes are not a drain record of this version.
    """
    body = _load(raw, "drain")
    try:
        return DrainRecord(WorkerId(str(body["worker_id"])), int(body["requested_us"]))
    except (KeyError, TypeError, ValueError) as err:
        raise RecordFormatError(f"bad drain record: {err}") from err
