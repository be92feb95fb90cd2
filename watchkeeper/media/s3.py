"""The warm tier on any S3-compatible server (boto3, SigV4), behind the ``ObjectStore`` protocol.

botocore's errors are translated here into the media errors (``ObjectStoreAuthError`` for refused
credentials, ``ObjectMissingError``, ``ObjectStoreError`` for everything transient), so nothing above
this module knows about boto3.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from watchkeeper.media.protocol import ObjectInfo, ObjectMissingError, ObjectStoreAuthError, ObjectStoreError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

STREAM_CHUNK = 64 * 1024
SHA256_METADATA = "sha256"
"""User-metadata key (``x-amz-meta-sha256``) carrying the uploader's SHA-256 of the object."""
AUTH_CODES = frozenset(
    {
        "403",
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "RequestTimeTooSkewed",
        "AuthorizationHeaderMalformed",
        "InvalidSecurity",
        "Forbidden",
    }
)
MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


@dataclass(frozen=True, slots=True)
class S3Settings:
    """How to reach one bucket (from ``tiers.warm``, secrets already resolved)."""

    bucket: str
    access_key_id: str
    secret_access_key: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    addressing_style: Literal["path", "virtual"] = "path"
    timeout_s: float = 30.0


def _translate(err: ClientError | BotoCoreError, what: str) -> ObjectStoreError | ObjectMissingError:
    if isinstance(err, ClientError):
        code = str(err.response.get("Error", {}).get("Code", ""))
        status = str(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        message = str(err.response.get("Error", {}).get("Message", "")) or code or status
        if code in MISSING_CODES:
            return ObjectMissingError(f"{what}: no such object")
        if code in AUTH_CODES or status == "403":
            return ObjectStoreAuthError(f"{what}: the S3 server refused the credentials ({code or status})")
        return ObjectStoreError(f"{what}: {code or status} {message}".strip())
    return ObjectStoreError(f"{what}: {err}")


class S3ObjectStore:
    """One bucket of an S3-compatible server."""

    def __init__(self, settings: S3Settings) -> None:
        """Build the client (no request yet)."""
        self.bucket = settings.bucket
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": settings.addressing_style},
            connect_timeout=settings.timeout_s,
            read_timeout=settings.timeout_s,
            retries={"max_attempts": 1, "mode": "standard"},  # the tiering loop retries with its backoff
            # Checksums only where the API requires them: several S3-compatible servers (Swift s3api among
            # them) reject the newer aws-chunked trailing checksums. Integrity is our own SHA-256.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._client: S3Client = boto3.client(
            "s3",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region,
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key,
            config=config,
        )

    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist.

        Raises:
            ObjectStoreAuthError: The credentials are refused.
            ObjectStoreError: The server failed.
        """
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as err:
            translated = _translate(err, f"bucket {self.bucket}")
            if not isinstance(translated, ObjectMissingError):
                raise translated from err
        except BotoCoreError as err:
            raise _translate(err, f"bucket {self.bucket}") from err
        else:
            return
        try:
            self._client.create_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as err:
            raise _translate(err, f"create bucket {self.bucket}") from err
        log.info("created bucket %s", self.bucket)

    def put_file(self, key: str, path: Path, sha256: str) -> ObjectInfo:
        """Upload ``path`` under ``key`` with its SHA-256 in the metadata (one PUT, or multipart if large)."""
        try:
            with path.open("rb") as body:
                self._client.upload_fileobj(
                    body, self.bucket, key, ExtraArgs={"Metadata": {SHA256_METADATA: sha256}}
                )
        except OSError as err:
            raise ObjectStoreError(f"cannot read {path.name} for upload: {err.strerror or err}") from err
        except (ClientError, BotoCoreError) as err:
            raise _translate(err, f"upload {key}") from err
        return self.stat(key)

    def stat(self, key: str) -> ObjectInfo:
        """Size, ETag and recorded SHA-256 of an object."""
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as err:
            raise _translate(err, f"stat {key}") from err
        return ObjectInfo(
            key=key,
            size=int(head["ContentLength"]),
            etag=str(head.get("ETag", "")).strip('"'),
            sha256=head.get("Metadata", {}).get(SHA256_METADATA),
        )

    def iter_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of an object, from one ranged GET streamed in 64 KiB pieces."""
        if end <= start:
            return
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end - 1}")
            body = answer["Body"]
            try:
                while piece := body.read(STREAM_CHUNK):
                    yield piece
            finally:
                body.close()
        except (ClientError, BotoCoreError) as err:
            raise _translate(err, f"read {key}") from err

    def delete(self, key: str) -> None:
        """Delete an object (already gone is fine)."""
        try:
            self._client.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as err:
            translated = _translate(err, f"delete {key}")
            if isinstance(translated, ObjectMissingError):
                return
            raise translated from err
