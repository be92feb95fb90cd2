"""The lease bucket: one NATS JetStream key-value bucket, with NATS errors translated into cluster errors."""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from dataclasses import dataclass
from typing import Final

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, KeyValueConfig, StorageType
from nats.js.client import JetStreamContext
from nats.js.kv import KV_DEL, KV_OP, KV_PURGE, KeyValue

from watchkeeper.cluster.errors import ClusterError, ClusterUnavailableError
from watchkeeper.cluster.records import (
    DRAIN_PREFIX,
    LEASE_PREFIX,
    WORKER_PREFIX,
    LeaseRecord,
    RecordFormatError,
    decode_drain,
    decode_lease,
    decode_worker,
)
from watchkeeper.cluster.status import BucketContents

log = logging.getLogger(__name__)

DEFAULT_URL: Final = "nats://127.0.0.1:4222"
FIRST: Final = asyncio.FIRST_COMPLETED
WRONG_LAST_SEQUENCE: Final = (10071, 10164)
"""JetStream error codes of a compare-and-set whose expected revision is not the current one."""
SNAPSHOT_BATCH: Final = 256
MAX_SNAPSHOT_BATCHES: Final = 200
"""A snapshot reads at most this many batches (a bucket rewritten faster than it can be read)."""


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
        domain: JetStream domain that holds the bucket (a site's leaf node, read from the hub); ``None``:
            the server's own. A bucket in another domain is only opened, never created.
    """

    url: str = DEFAULT_URL
    bucket: str = "watchkeeper_leases"
    connect_timeout_s: float = 3.0
    request_timeout_s: float = 2.0
    domain: str | None = None

    @property
    def where(self) -> str:
        """The bucket's name and, when set, its domain (for messages)."""
        return self.bucket if self.domain is None else f"{self.bucket} in JetStream domain {self.domain}"


@dataclass(frozen=True, slots=True)
class Revisions:
    """Bucket contents with the revision of each record, keyed like the bucket."""

    contents: BucketContents
    lease_revisions: dict[str, int]
    worker_revisions: dict[str, int]


@dataclass(frozen=True, slots=True)
class StoredLease:
    """A lease as stored, with its revision."""

    record: LeaseRecord
    revision: int


class LeaseBucket:
    """An open connection to the lease bucket (created when missing)."""

    def __init__(self, client: Client, kv: KeyValue, settings: BucketSettings) -> None:
        """Wrap an open ``client`` and its bucket; use :meth:`open`."""
        self._client = client
        self._kv = kv
        self.settings = settings
        self._prefix = f"$KV.{settings.bucket}."
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
        first_error: asyncio.Future[Exception] = asyncio.get_running_loop().create_future()

        async def on_error(err: Exception) -> None:
            if not first_error.done():
                first_error.set_result(err)
            log.debug("NATS %s: %s", where, err)

        async def on_disconnected() -> None:
            if client.is_closed or client.is_draining:
                return
            log.warning("lease bucket: NATS %s disconnected; reconnecting", where)

        async def on_reconnected() -> None:
            log.info("lease bucket: NATS %s reconnected", where)

        connecting = asyncio.ensure_future(
            client.connect(
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
        )
        await asyncio.wait((connecting, first_error), timeout=settings.connect_timeout_s, return_when=FIRST)
        if not (connecting.done() and not connecting.cancelled() and connecting.exception() is None):
            connecting.cancel()
            try:
                await client.close()
            except nats.errors.Error as err:
                log.debug("closing a failed NATS connection: %s", err)
            reason = first_error.result() if first_error.done() else "no answer"
            raise ClusterUnavailableError(f"cannot reach NATS at {where} for camera leases: {reason}")
        try:
            kv = await cls._ensure_bucket(client, settings)
        except BaseException:
            await client.close()
            raise
        return cls(client, kv, settings)

    @staticmethod
    async def _ensure_bucket(client: Client, settings: BucketSettings) -> KeyValue:
        js = client.jetstream(timeout=settings.request_timeout_s, domain=settings.domain)
        try:
            try:
                return await js.key_value(settings.bucket)
            except nats.js.errors.BucketNotFoundError:
                if settings.domain is not None:
                    raise ClusterError(
                        f"no lease bucket {settings.where} (has a worker of that site started?)"
                    ) from None
                config = KeyValueConfig(
                    bucket=settings.bucket,
                    description="Watchkeeper worker heartbeats and camera leases",
                    history=1,
                    storage=StorageType.FILE,
                )
                return await js.create_key_value(config)
        except nats.errors.TimeoutError as err:
            raise ClusterUnavailableError(f"NATS did not answer opening bucket {settings.where}") from err
        except nats.errors.NoRespondersError as err:
            raise ClusterUnavailableError(f"nothing answers for lease bucket {settings.where}") from err
        except nats.js.errors.ServiceUnavailableError as err:
            if settings.domain is not None:  # another domain's JetStream: it is the link that is missing
                raise ClusterUnavailableError(f"nothing answers for lease bucket {settings.where}") from err
            raise ClusterError(f"JetStream is not enabled on {redact_url(settings.url)}: {err}") from err
        except nats.errors.Error as err:
            raise ClusterError(f"NATS refused lease bucket {settings.where}: {err}") from err

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

    async def delete(self, key: str, last: int | None = None) -> bool:
        """Delete ``key`` (no error when missing); with ``last``, only if its revision is still ``last``.

        Returns:
            False when ``last`` no longer matches (nothing deleted), else True.

        Raises:
            ClusterUnavailableError: when NATS does not answer.
        """
        try:
            await self._kv.delete(key, last=last)
        except nats.js.errors.APIError as err:
            if err.err_code in WRONG_LAST_SEQUENCE:
                return False
            raise self._unavailable("delete", key, err) from err
        except (nats.errors.Error, TimeoutError) as err:
            raise self._unavailable("delete", key, err) from err
        return True

    async def get_lease(self, key: str) -> StoredLease | None:
        """The lease under ``key`` and its revision, or None when missing or unreadable.

        Raises:
            ClusterUnavailableError: when NATS does not answer.
        """
        try:
            entry = await self._kv.get(key)
        except nats.js.errors.KeyNotFoundError:
            return None
        except (nats.errors.Error, TimeoutError) as err:
            raise self._unavailable("get", key, err) from err
        if not entry.value or entry.revision is None:
            return None
        try:
            return StoredLease(decode_lease(entry.value), entry.revision)
        except RecordFormatError as err:
            log.warning("lease bucket: unreadable lease %s: %s", key, err)
            return None

    async def read_all(self, prefix: str = "") -> Revisions:
        """Every record now (or those whose key starts with ``prefix``, ending in a dot), with revisions.

        Unreadable records are logged and skipped.

        Reads the last message of every key through a short-lived pull consumer whose pending count the
        server fixes at creation, so the snapshot is complete (no early end-of-snapshot marker).

        Raises:
            ClusterUnavailableError: when NATS does not answer.
        """
        timeout = self.settings.request_timeout_s
        js = self._client.jetstream(timeout=timeout, domain=self.settings.domain)
        stream = f"KV_{self.settings.bucket}"
        config = ConsumerConfig(
            name=uuid.uuid4().hex,
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
            ack_policy=AckPolicy.NONE,
            filter_subject=f"{self._prefix}{prefix}>",
            inactive_threshold=max(5.0, 4 * timeout),
            mem_storage=True,
        )
        try:
            created = await js.add_consumer(stream, config=config)
        except (nats.errors.Error, TimeoutError) as err:
            raise self._unavailable("read", ">", err) from err
        name = created.name or ""
        try:
            pull = await js.pull_subscribe_bind(consumer=name, stream=stream)
            try:
                return await self._fetch_all(pull, created.num_pending or 0, timeout)
            finally:
                await pull.unsubscribe()
        except (nats.errors.Error, TimeoutError) as err:
            raise self._unavailable("read", ">", err) from err
        finally:
            try:
                await js.delete_consumer(stream, name)
            except (nats.errors.Error, TimeoutError) as err:
                log.debug("deleting snapshot consumer %s failed: %s", name, err)

    async def _fetch_all(
        self, pull: JetStreamContext.PullSubscription, total: int, timeout: float
    ) -> Revisions:
        latest: dict[str, tuple[int, bytes | None]] = {}
        batches = 0
        while total > 0 and batches < MAX_SNAPSHOT_BATCHES:
            batch = await pull.fetch(SNAPSHOT_BATCH, timeout=timeout)
            batches += 1
            for msg in batch:
                operation = msg.headers.get(KV_OP) if msg.headers else None
                deleted = operation in (KV_DEL, KV_PURGE) or not msg.data
                latest[msg.subject[len(self._prefix) :]] = (
                    msg.metadata.sequence.stream,
                    None if deleted else msg.data,
                )
            # Keys written after the consumer started come after the initial set (a replaced message is
            # skipped and its successor delivered): the snapshot is whole once nothing is pending.
            if batch and batch[-1].metadata.num_pending == 0:
                break
        return self._decode(latest)

    @staticmethod
    def _decode(latest: dict[str, tuple[int, bytes | None]]) -> Revisions:
        workers, leases, drains = [], [], []
        lease_revisions: dict[str, int] = {}
        worker_revisions: dict[str, int] = {}
        for key, (revision, data) in latest.items():
            if data is None:
                continue
            try:
                if key.startswith(LEASE_PREFIX):
                    leases.append(decode_lease(data))
                    lease_revisions[key] = revision
                elif key.startswith(WORKER_PREFIX):
                    workers.append(decode_worker(data))
                    worker_revisions[key] = revision
                elif key.startswith(DRAIN_PREFIX):
                    drains.append(decode_drain(data))
            except RecordFormatError as err:
                log.warning("lease bucket: skipping key %s: %s", key, err)
        return Revisions(BucketContents(workers, leases, drains), lease_revisions, worker_revisions)

    async def destroy(self) -> None:
        """Delete the whole bucket (tests and uninstall)."""
        js = self._client.jetstream(timeout=self.settings.request_timeout_s, domain=self.settings.domain)
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
        return ClusterUnavailableError(
            f"NATS {where} failed to {action} {key} in lease bucket {self.settings.where}: {err!r}"
        )
