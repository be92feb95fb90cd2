"""Builds the chain-of-custody services of ``watchkeeper serve`` and keeps the audit anchor fresh."""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import BinaryIO

from watchkeeper.audit.anchor import AnchorFile
from watchkeeper.audit.log import AuditLog
from watchkeeper.bus.messages import BreakGlassMessage
from watchkeeper.bus.protocol import Bus
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.domain import WatchkeeperError
from watchkeeper.domain.custody import UnmaskGrant
from watchkeeper.media.protocol import SegmentFiles
from watchkeeper.privacy.crypto import (
    CHUNK_SIZE,
    DecryptingReader,
    SegmentCryptoError,
    SegmentSealer,
    TamperedSegmentError,
    is_encrypted,
)
from watchkeeper.privacy.exports import ExportDeps, ExportService
from watchkeeper.privacy.grants import GrantService, GrantSettings
from watchkeeper.privacy.keys import FileKeyProvider, KeyUnavailableError, MasterKeyFileError, SegmentKeys
from watchkeeper.privacy.live import LiveOriginals
from watchkeeper.privacy.services import CustodyServices
from watchkeeper.privacy.signing import ExportSigner
from watchkeeper.recorder.recovery import SealedOpener, UnreadableSegmentError, UnverifiableSegmentError
from watchkeeper.storage.protocols import Store

log = logging.getLogger(__name__)


def config_hash(config: WatchkeeperConfig) -> str:
    """SHA-256 of the effective configuration (secrets masked), to notice configuration changes."""
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()


def open_key_provider(config: WatchkeeperConfig, store: Store) -> FileKeyProvider:
    """The master key file: created on first run; missing while data keys exist, or too open, stops start-up.

    Raises:
        MasterKeyFileError: With a one-line reason.
    """
    path = config.custody.paths(config.storage.media_root).master_key_file
    return FileKeyProvider.open(path, encrypted_data_exists=store.data_keys.count() > 0)


def sealed_opener(config: WatchkeeperConfig, store: Store) -> SealedOpener | None:
    """How start-up recovery reads encrypted originals (``None`` when nothing is or gets encrypted).

    Raises:
        MasterKeyFileError: With a one-line reason (as at start-up).
    """
    if not config.custody.encrypt_originals and store.data_keys.count() == 0:
        return None
    keys = SegmentKeys(open_key_provider(config, store), store.data_keys)
    return lambda path: open_verified(keys, path)


def worker_keys(config: WatchkeeperConfig, store: Store, *, store_open: bool) -> SegmentKeys | None:
    """The data keys a worker seals originals with (``None`` when ``custody.encrypt_originals`` is off).

    With ``store_open`` False (the store did not answer at start-up) a missing master key file is not
    created: the store cannot say whether encrypted recordings exist that need the old one.

    Raises:
        MasterKeyFileError: With a one-line reason.
    """
    if not config.custody.encrypt_originals:
        return None
    path = config.custody.paths(config.storage.media_root).master_key_file
    if store_open:
        return SegmentKeys(open_key_provider(config, store), store.data_keys)
    if not path.exists():
        raise MasterKeyFileError(
            f"master key file {path} is missing and the store is unreachable, so nothing can say whether "
            "encrypted recordings need it: restore the file, or start once with the store reachable"
        )
    return SegmentKeys(FileKeyProvider.open(path, encrypted_data_exists=True), store.data_keys)


def deferred_sealed_opener(config: WatchkeeperConfig, store: Store, keys: SegmentKeys | None) -> SealedOpener:
    """How a worker's recovery reads encrypted originals: with ``keys``, else keys made at the first one.

    The master key file is read when the first encrypted file is met (by then the store answers).
    """
    found: list[SegmentKeys] = [keys] if keys is not None else []

    def open_sealed(path: Path) -> BinaryIO | None:
        if not is_encrypted(path):
            return None
        if not found:
            found.append(SegmentKeys(open_key_provider(config, store), store.data_keys))
        return open_verified(found[0], path)

    return open_sealed


def config_loaded(config: WatchkeeperConfig, store: Store) -> None:
    """Audit the configuration this process runs with (one record when it changed since the last one)."""
    AuditLog(store.audit).config_loaded(config_hash(config))


def open_verified(keys: SegmentKeys, path: Path) -> BinaryIO | None:
    """Plaintext of an encrypted segment once every chunk authenticated (``None``: not encrypted).

    Raises:
        UnreadableSegmentError: Truncated, altered or not readable.
        UnverifiableSegmentError: Its data key is unavailable.
    """
    if not is_encrypted(path):
        return None
    try:
        reader = DecryptingReader(path, keys.for_reading)
    except KeyUnavailableError as err:
        raise UnverifiableSegmentError(f"{path}: {err}") from err
    except SegmentCryptoError as err:
        raise UnreadableSegmentError(str(err)) from err
    try:
        reader.verify()
    except (TamperedSegmentError, SegmentCryptoError) as err:
        reader.close()
        raise UnreadableSegmentError(str(err)) from err
    return io.BufferedReader(reader, CHUNK_SIZE)


class BreakGlassNotice:
    """Tells approvers of every break glass: a ``BreakGlassMessage`` on the bus (console, MQTT, webhooks)."""

    def __init__(self, bus: Bus) -> None:
        """Publish on ``bus`` (started; publishing works from any thread)."""
        self._bus = bus

    def __call__(self, grant: UnmaskGrant) -> None:
        """Publish the notice of ``grant`` (a failure is logged: the break glass itself is audited)."""
        message = BreakGlassMessage(
            grant_id=grant.id,
            requester=grant.requester,
            camera_ids=grant.camera_ids,
            reason=grant.reason,
            at=grant.requested_at,
            expires_at=grant.expires_at or grant.end,
        )
        try:
            self._bus.publish_threadsafe(message).add_done_callback(_log_failure)
        except WatchkeeperError as err:
            log.error("approvers NOT notified of break glass %s: %s", grant.id, err)  # noqa: TRY400


def _log_failure(done: Future[None]) -> None:
    error = done.exception()
    if error is not None:
        log.error("approvers NOT notified of a break glass: %s", error)


def build_custody(
    config: WatchkeeperConfig,
    store: Store,
    notify: Callable[[UnmaskGrant], None] | None = None,
    live: LiveOriginals | None = None,
    files: SegmentFiles | None = None,
) -> CustodyServices:
    """Keys, audit log, grants and exports of ``config``; audits a configuration change.

    ``notify`` hears of every break glass; ``live`` carries unredacted live frames from the cameras.

    Raises:
        WatchkeeperError: An unusable master or signing key file (one line each).
    """
    section = config.custody
    paths = section.paths(config.storage.media_root)
    keys = None
    if section.encrypt_originals or store.data_keys.count() > 0:
        keys = SegmentKeys(open_key_provider(config, store), store.data_keys)
    audit = AuditLog(store.audit)
    settings = GrantSettings(
        valid_hours=section.grant_hours,
        max_valid_hours=max(section.grant_hours, section.max_grant_hours),
        break_glass=section.break_glass,
        break_glass_minutes=section.break_glass_minutes,
    )
    grants = GrantService(store.grants, audit, settings, notify)
    deps = ExportDeps(
        store=store,
        audit=audit,
        grants=grants,
        signer=ExportSigner.open(paths.signing_key_file),
        media_root=config.storage.media_root,
        exports_dir=paths.exports_dir,
        keys=keys,
        files=files,
    )
    audit.config_loaded(config_hash(config))
    recording = config.recording
    return CustodyServices(
        audit,
        grants,
        keys,
        ExportService(deps),
        recording.retain_days,
        recording.event_retain_days,
        live,
    )


def segment_finisher(custody: CustodyServices | None, config: WatchkeeperConfig) -> SegmentSealer | None:
    """The sealer that encrypts each finished original segment (``None`` when encryption is off)."""
    if custody is None or custody.keys is None or not config.custody.encrypt_originals:
        return None
    return SegmentSealer(custody.keys.for_writing)


def anchor_loop(config: WatchkeeperConfig, custody: CustodyServices) -> AnchorLoop:
    """The anchor writer of ``config`` (started with the workers)."""
    path = config.custody.paths(config.storage.media_root).audit_anchor_file
    return AnchorLoop(AnchorFile(path), custody, config.custody.anchor_interval_s)


class AnchorLoop:
    """Writes the audit chain head to the anchor file every ``interval_s`` (and once when stopped)."""

    def __init__(self, anchors: AnchorFile, custody: CustodyServices, interval_s: float) -> None:
        """Anchor ``custody``'s audit log into ``anchors``."""
        self._anchors = anchors
        self._custody = custody
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-anchor", daemon=True)

    def start(self) -> None:
        """Start the background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop and write a last anchor."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._anchor()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._anchor()

    def _anchor(self) -> None:
        try:
            self._anchors.anchor_head(self._custody.audit.repository)
        except WatchkeeperError as err:
            log.error("cannot write the audit anchor: %s", err)  # noqa: TRY400 - one line, no trace
