"""The ``tiers`` section: moving recorded segments from the local disk (hot) to an S3 bucket (warm)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_core import PydanticCustomError

from watchkeeper.config.base import ConfigModel


class S3WarmTierConfig(ConfigModel):
    """An S3-compatible bucket (AWS S3, Ceph RGW, MinIO, OpenStack Swift with s3api) signed with SigV4."""

    type: Literal["s3"] = Field(
        default="s3", title="Warm tier type", description="`s3`: any S3-compatible object store."
    )
    bucket: str = Field(
        title="Bucket",
        description="Bucket the segments go to (created when missing and the key may create it).",
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
    )
    endpoint_url: str | None = Field(
        default=None,
        title="Endpoint URL",
        description="`http(s)://host:port` of the S3 server; omitted: AWS S3 of `region`.",
        pattern=r"^https?://[^/\s]+/?$",
    )
    region: str = Field(
        default="us-east-1",
        title="Region",
        description="Region the requests are signed for (SigV4).",
        pattern=r"^[a-z0-9-]{2,32}$",
    )
    prefix: str = Field(
        default="segments/",
        title="Key prefix",
        description="Prefix of every object key; the segment's path inside the media folder follows it.",
        pattern=r"^([A-Za-z0-9._-]+/)*$",
        max_length=200,
    )
    access_key_id: SecretStr = Field(
        title="Access key id",
        description="S3 access key id; use `${secret:NAME}` to keep it out of the file.",
    )
    secret_access_key: SecretStr = Field(
        title="Secret access key",
        description="S3 secret key; use `${secret:NAME}` (never logged or returned).",
    )
    addressing_style: Literal["path", "virtual"] = Field(
        default="path",
        title="Addressing style",
        description="`path` (`host/bucket/key`, what most self-hosted servers want) or `virtual`.",
    )
    timeout_s: float = Field(
        default=30.0, title="Timeout", description="Connect and read timeout of one request.", gt=0, le=600
    )


class TiersConfig(ConfigModel):
    """When segments move from the local media folder to the warm bucket, and how failures are retried."""

    enabled: bool = Field(
        default=False,
        title="Enabled",
        description="Run the tiering loop (needs `warm`). Off: every segment stays on the local disk.",
    )
    warm: S3WarmTierConfig | None = Field(
        default=None, title="Warm tier", description="The bucket segments move to."
    )
    warm_after_s: int = Field(
        default=86_400,
        title="Warm after",
        description="Move a segment once it ended this many seconds ago (0: as soon as it is indexed).",
        ge=0,
        le=366 * 86_400,
    )
    min_free_bytes: int = Field(
        default=0,
        title="Minimum free bytes",
        description="Disk pressure: while the media volume has less free space, move the oldest hot "
        "segments whatever their age (0: age only).",
        ge=0,
        le=2**60,
    )
    interval_s: float = Field(
        default=60.0, title="Interval", description="Seconds between tiering passes.", ge=1, le=86_400
    )
    batch: int = Field(
        default=50, title="Batch", description="Most segments moved per pass.", ge=1, le=10_000
    )
    retry_attempts: int = Field(
        default=4,
        title="Retry attempts",
        description="Tries per segment and pass before it waits for the next pass (kept locally).",
        ge=1,
        le=20,
    )
    retry_base_s: float = Field(
        default=1.0,
        title="Retry backoff",
        description="Wait before the second try; doubled for each further try.",
        ge=0,
        le=600,
    )
    retry_max_s: float = Field(
        default=30.0, title="Retry backoff cap", description="Longest wait between two tries.", ge=0, le=3600
    )

    @model_validator(mode="after")
    def _warm_when_enabled(self) -> Self:
        if self.enabled and self.warm is None:
            raise PydanticCustomError("tiers_warm", "tiers.enabled needs a `warm` bucket")
        return self
