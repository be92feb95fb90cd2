"""Errors raised by camera leasing; every backend translates its library's errors into these."""

from watchkeeper.domain import WatchkeeperError


class ClusterError(WatchkeeperError):
    """A cluster operation failed (not started, bad worker id, unknown worker...)."""

    code = "cluster_error"


class ClusterUnavailableError(ClusterError):
    """The coordination server (NATS JetStream) cannot be reached or stopped answering."""

    code = "cluster_unavailable"


class UnknownWorkerError(ClusterError):
    """A drain or query named a worker that has no live heartbeat in the cluster."""

    code = "unknown_worker"
