"""The ``cluster`` section: how this process takes part in camera leasing (issue 10, scale-out)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, SecretStr, model_validator
from pydantic_core import PydanticCustomError

from watchkeeper.config.base import ConfigModel
from watchkeeper.config.secrets import SecretUrl
from watchkeeper.config.sites import SLUG_PATTERN
from watchkeeper.config.storage import check_nats_url

WORKER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,100}$"
"""Worker ids: letters, digits, dashes and underscores (they are part of NATS key names)."""


class ClusterConfig(ConfigModel):
    """Camera leases: which worker process records which camera, and how fast a dead worker's cameras move."""

    leases: Literal["local", "nats"] = Field(
        default="local",
        title="Lease backend",
        description=(
            "`local`: every camera goes to this one process (single box, nothing to run). "
            "`nats`: cameras are leased to workers through a NATS JetStream key-value bucket."
        ),
    )
    url: Annotated[SecretUrl, AfterValidator(check_nats_url)] | None = Field(
        default=None,
        title="NATS URL",
        description=(
            "NATS server of the lease bucket; empty uses `storage.bus.url` when the bus is NATS, "
            "else nats://127.0.0.1:4222. Credentials in the URL are never shown."
        ),
    )
    bucket: str = Field(
        default="watchkeeper_leases",
        title="Lease bucket",
        description="JetStream key-value bucket holding worker heartbeats and camera leases.",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
    )
    worker_id: str | None = Field(
        default=None,
        title="Worker id",
        description="Unique id of this worker in the cluster; empty uses `<hostname>-<pid>`.",
        pattern=WORKER_ID_PATTERN,
    )
    capacity: int = Field(
        default=32,
        title="Capacity",
        description="Most cameras this worker records and analyses at once.",
        ge=1,
        le=10000,
    )
    hardware: str = Field(
        default="cpu",
        title="Hardware",
        description="Accelerator label this worker advertises (for example `cpu` or `cuda`).",
        pattern=r"^[A-Za-z0-9_.:-]{1,40}$",
    )
    site: str | None = Field(
        default=None,
        title="Worker site",
        description=(
            "Site this worker belongs to; cameras pinned to a site go only to that site's workers. "
            "Empty: this worker takes unpinned cameras only."
        ),
        pattern=SLUG_PATTERN,
    )
    pin_cameras_to_sites: bool = Field(
        default=False,
        title="Pin cameras to sites",
        description=(
            "Each camera goes only to workers whose `cluster.site` is the camera's site "
            "(set the same on every node). Off: any worker takes any camera."
        ),
    )
    media_secret: SecretStr | None = Field(
        default=None,
        title="Media link secret",
        description=(
            "Shared secret, the same on every node, that signs an API node's requests for a segment file on "
            "a site worker's HTTP port (HMAC of the path and an expiry): the hub API plays a site's hot "
            "footage from that site's own media folder. Use `${secret:NAME}`; at least 16 characters. "
            "Empty: workers refuse such requests and an API node plays only what its own media folder "
            "and the warm tier hold."
        ),
        min_length=16,
    )
    http_url: str | None = Field(
        default=None,
        title="Advertised HTTP URL",
        description=(
            "Base URL at which API nodes reach this worker's HTTP port (advertised in its heartbeat), for "
            "example `http://10.1.0.5:8081`. Empty: `http://<server.host>:<port>`, with the host name when "
            "`server.host` is a wildcard address."
        ),
        pattern=r"^https?://[A-Za-z0-9.\[\]:_-]+(/[A-Za-z0-9._~/-]*)?$",
        max_length=300,
    )
    heartbeat_s: float = Field(
        default=2.0,
        title="Heartbeat (s)",
        description="How often the worker renews its heartbeat and leases.",
        ge=0.1,
        le=60.0,
    )
    lease_timeout_s: float = Field(
        default=6.0,
        title="Lease timeout (s)",
        description=(
            "A lease not renewed for this long may be taken by another worker; its owner stops the "
            "camera by then. At least twice the heartbeat."
        ),
        ge=0.5,
        le=600.0,
    )
    rebalance: bool = Field(
        default=True,
        title="Rebalance",
        description=(
            "A worker holding at least `rebalance_min_imbalance` cameras more than a live worker with spare "
            "capacity hands cameras to it, one at a time, by the drain handover (the old owner records until "
            "the new one streams). Set the same on every worker; off: drain a busy worker to move cameras."
        ),
    )
    rebalance_min_imbalance: int = Field(
        default=2,
        title="Rebalance threshold",
        description=(
            "Smallest difference in cameras between two workers that moves one; at least 2 (a difference "
            "of 1 would only swap which worker has the extra camera)."
        ),
        ge=2,
        le=10000,
    )
    recovery_quiet_s: float = Field(
        default=30.0,
        title="Recovery quiet time (s)",
        description=(
            "A worker recovers a camera's leftover `.part` and unindexed segment files (from a crashed or "
            "previous owner) when it takes the camera's lease, once they have not changed for this long on "
            "its own clock. Longer than the longest keyframe interval of any camera."
        ),
        ge=1.0,
        le=3600.0,
    )

    @model_validator(mode="after")
    def _check_timing(self) -> Self:
        if self.lease_timeout_s < 2 * self.heartbeat_s:
            raise PydanticCustomError(
                "lease_timeout",
                "lease_timeout_s ({timeout}) must be at least twice heartbeat_s ({heartbeat})",
                {"timeout": self.lease_timeout_s, "heartbeat": self.heartbeat_s},
            )
        return self
