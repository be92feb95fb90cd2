"""Camera leases in a NATS JetStream key-value bucket: the worker side and the operator side."""

from watchkeeper.cluster.nats.bucket import BucketSettings, LeaseBucket
from watchkeeper.cluster.nats.control import NatsClusterControl
from watchkeeper.cluster.nats.worker import LeaseTiming, NatsCameraLeases

__all__ = ["BucketSettings", "LeaseBucket", "LeaseTiming", "NatsCameraLeases", "NatsClusterControl"]
