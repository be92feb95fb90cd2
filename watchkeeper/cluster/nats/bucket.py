"""The lease bucket: one NATS JetStream key-value bucket, with NATS errors translated into cluster errors."""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from typing import Final

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from watchkeeper.cluster.errors import ClusterError, ClusterUnavailableError
from watchkeeper.cluster.records import (
    DRAIN_PREFIX,
    LEASE_PREFIX,
    WORKER_PREFIX,
    RecordFormatError,
    decode_drain,
    decode_lease,
    decode_worker,
)
from watchkeeper.cluster.status import BucketContents

log = logging.getLogger(__name__)

DEFAULT_URL: Final = "nats://127.0.0.1:4222"


def redact_url(url: str) -> str:
    """``url`` without user name or password, for messages and logs."""
    scheme, _, rest = url.partition("://")
    host = rest.rsplit("@", 1)[-1].split("/", 1)[0]
    return f"{scheme}://{host}"


@dataclass(frozen=True, slots=True)
class BucketSettings:
    """Where the bucket is and how long to wait for NATS.

    Attributes:
        url: NATS server URL (may hold credentials; never logged).
        bucket: Key-value bucket name.
        connect_timeout_s: Give up connecting at start after this long.
        request_timeout_s: Give up one key-value request after this long.
    """

    url: str = DEFAULT_URL
    bucket: str = "watchkeeper_leases"
    connect_timeout_s: float = 3.0
    request_timeout_s: float = 2.0


@dataclass(frozen=True, slots=True)
class Revisions:
    """Bucket contents with the revision of each record, keyed like the bucket."""

    contents: BucketContents
    lease_revisions: dict[str, int]
    worker_revisions: dict[str, int]


class LeaseBucket:
    """An open connection to the lease bucket (created when missing)."""

    def __init__(self, client: Client, kv: KeyValue, settings: BucketSettings) -> None:
        """Wrap an open ``client`` and its bucket; use :meth:`open`."""
        self._client = client
        self._kv = kv
        self.settings = settings
        self._closed = False

    @classmethod
    async def open(cls, settings: BucketSettings) -> LeaseBucket:
        """Connect (reconnecting for ever after a first success) and open or create the bucket.

        Raises:
            ClusterUnavailableError: when NATS cannot be reached at start or does not answer.
            ClusterError: when JetStream is not enabled or refuses the bucket.
        """
        where = redact_url(settings.url)
        client = Client()

        async def on_error(err: Exception) -> None:
            log.debug("NATS %s: %s", where, err)

        async def on_disconnected() -> None:
            log.warning("lease bucket: NATS %s disconnected; reconnecting", where)

        async def on_reconnected() -> None:
            log.info("lease bucket: NATS %s reconnected", where)

        try:
            await client.connect(
                servers=[settings.url],
                name="watchkeeper-cluster",
                connect_timeout=max(1, math.ceil(settings.connect_timeout_s)),
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                error_cb=on_error,
                disconnected_cb=on_disconnected,
                reconnected_cb=on_reconnected,
            )
        except (nats.errors.Error, OSError, TimeoutError) as err:
            raise ClusterUnavailableError(f"cannot reach NATS at {where} for camera leases: {err}") from err
        try:
            kv = await cls._ensure_bucket(client, settings)
        except BaseException:
            await client.close()
            raise
        return cls(client, kv, settings)

    @staticmethod
    async def _ensure_bucket(client: Client, settings: BucketSettings) -> KeyValue:
        js = client.jetstream(timeout=settings.request_timeout_s)
        try:
            try:
                return await js.key_value(settings.bucket)
            except nats.js.errors.BucketNotFoundError:
                config = KeyValueConfig(
                    bucket=settings.bucket,
                    description="Watchkeeper worker heartbeats and camera leases",
                    history=1,
                    storage=StorageType.FILE,
                )
                return await js.create_key_value(config)
        except nats.errors.TimeoutError as err:
            raise ClusterUnavailableError(f"NATS did not answer opening bucket {settings.bucket}") from err
        except nats.js.errors.ServiceUnavailableError as err:
            raise ClusterError(f"JetStream is not enabled on {redact_url(settings.url)}: {err}") from err
        except nats.errors.Error as err:
            raise ClusterError(f"NATS refused lease bucket {settings.bucket}: {err}") from err

    @property
    def connected(self) -> bool:
        """Whether the connection is up now (it reconnects by itself)."""
        return self._client.is_connected

    async def create(self, key: str, value: bytes) -> int | None:
        """Create ``key``; its revision, or None when it exists already (someone else won).

        Raises:
            ClusterUnavailableError: when NATS does not answer.
        """
        try:
            return await self._kv.create(key, value)
        except nats.js.errors.KeyWrongLastSequenceError:
            return None
        except (nats.errors.Error, TimeoutError) as err:
            raise self._unavailable("create", key, err) from err

    async def update(self, key: str, value: bytes, last: int) -> int | None:
        """Write ``key`` if its revision is still ``last``; the new revision, or None on a conflict.

        Raises:
            ClusterUnavailableError: when NATS does not answer.
        """
        try:
            return await self._kv.update(key, value, last=last)
        except nats.js.errors.KeyWrongLastSequenceError:
            return None
        except (nats.errors.Error, TimeoutError) as err:
            raise self._unavailable("update", key, err) from err

    async def put(self, key: str, value: bytes) -> int:
        """Write ``key`` unconditionally; its new revision.

        Raises:
            ClusterUnavailableError: when NATS does not answer.
        """
        try:
            return await self._kv.put(key, value)
        except (nats.errors.Error, TimeoutError) as err:
            raise self._unavailable("put", key, err) from err

    async def delete(self, key: str) -> None:
        """Delete ``key`` (no error when missing).

        Raises:
            ClusterUnavailableError: when NATS does not answer.
        """
        try:
            await self._kv.delete(key)
        except (nats.errors.Error, TimeoutError) as err:
            raise self._unavailable("delete", key, err) from err

    async def exists(self, key: str) -> bool:
        """Whether ``key`` holds a value now."""
        try:
            await self._kv.get(key)
        except nats.js.errors.KeyNotFoundError:
            return False
        except (nats.errors.Error, TimeoutError) as err:
            raise self._unavailable("get", key, err) from err
        return True

    async def read_all(self) -> Revisions:
        """Every record now, with revisions; unreadable records are logged and skipped.

        Raises:
            ClusterUnavailableError: when NATS does not answer.
        """
        timeout = self.settings.request_timeout_s
        try:
            watcher = await self._kv.watchall(inactive_threshold=max(2.0, 2 * timeout))
        except (nats.errors.Error, TimeoutError) as err:
            raise self._unavailable("watch", ">", err) from err
        try:
            return await asyncio.wait_for(self._drain_watcher(watcher), timeout=4 * timeout)
        except (nats.errors.Error, TimeoutError) as err:
            raise self._unavailable("read", ">", err) from err
        finally:
            try:
                await watcher.stop()  # type: ignore[no-untyped-call]  # nats-py leaves it unannotated
            except nats.errors.Error as err:
                log.debug("stopping a bucket watcher failed: %s", err)

    async def _drain_watcher(self, watcher: KeyValue.KeyWatcher) -> Revisions:
        workers, leases, drains = [], [], []
        lease_revisions: dict[str, int] = {}
        worker_revisions: dict[str, int] = {}
        async for entry in watcher:
            if entry is None:
                break
            if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
                continue
            key = entry.key
            try:
                if key.startswith(LEASE_PREFIX):
                    leases.append(decode_lease(entry.value))
                    lease_revisions[key] = entry.revision or 0
                elif key.startswith(WORKER_PREFIX):
                    workers.append(decode_worker(entry.value))
                    worker_revisions[key] = entry.revision or 0
                elif key.startswith(DRAIN_PREFIX):
                    drains.append(decode_drain(entry.value))
            except RecordFormatError as err:
                log.warning("lease bucket: skipping key %s: %s", key, err)
            if entry.delta == 0:
                break
        return Revisions(BucketContents(workers, leases, drains), lease_revisions, worker_revisions)

    async def destroy(self) -> None:
        """Delete the whole bucket (tests and uninstall)."""
        js = self._client.jetstream(timeout=self.settings.request_timeout_s)
        try:
            await js.delete_key_value(self.settings.bucket)
        except nats.js.errors.NotFoundError:
            return
        except (nats.errors.Error, TimeoutError) as err:
            raise self._unavailable("delete bucket", self.settings.bucket, err) from err

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._client.close()
        except nats.errors.Error as err:
            log.debug("closing the lease bucket connection: %s", err)

    def _unavailable(self, action: str, key: str, err: BaseException) -> ClusterUnavailableError:
        where = redact_url(self.settings.url)
        return ClusterUnavailableError(f"NATS {where} failed to {action} {key} in the lease bucket: {err!r}")
