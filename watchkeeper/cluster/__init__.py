"""Camera leasing across worker processes: which worker records which camera, with fencing tokens.

``CameraLeases`` (protocol.py) is what a worker uses; ``ClusterControl`` is what an operator's command
uses. Backends: ``local`` (every camera to the one local worker, no server) and ``nats`` (leases in a
NATS JetStream key-value bucket with heartbeats, capacity-aware placement, drain and takeover).
Only ``runtime.wiring`` picks the backend (see ``watchkeeper.cluster.factory``).
"""

from watchkeeper.cluster.errors import ClusterError, ClusterUnavailableError, UnknownWorkerError
from watchkeeper.cluster.model import (
    UNFENCED,
    CameraSpec,
    ClusterStatus,
    FencingToken,
    LeaseAcquired,
    LeaseChange,
    LeaseLost,
    LeaseState,
    LossReason,
    WorkerId,
    WorkerInfo,
    WorkerState,
)
from watchkeeper.cluster.protocol import CameraLeases, ClusterControl

__all__ = [
    "UNFENCED",
    "CameraLeases",
    "CameraSpec",
    "ClusterControl",
    "ClusterError",
    "ClusterStatus",
    "ClusterUnavailableError",
    "FencingToken",
    "LeaseAcquired",
    "LeaseChange",
    "LeaseLost",
    "LeaseState",
    "LossReason",
    "UnknownWorkerError",
    "WorkerId",
    "WorkerInfo",
    "WorkerState",
]
