"""Signed evidence exports: a zip bundle with media, a manifest, an audit excerpt and an Ed25519 signature.

Bundle layout::

    manifest.json         what, who, why, the grant, the parent export, segment and file hashes
    manifest.sig          Ed25519 signature over the exact bytes of manifest.json
    public-key.pem        the signer's public key (for convenience: verify against a key you trust)
    media/<camera>.mp4    the clip of each camera, remuxed from the recording
    audit.jsonl           the audit records about the cameras, the grant and this export

The source footage is evidence-locked until the export is released.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import secrets
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from watchkeeper.audit.log import AuditAction, AuditLog
from watchkeeper.domain import CameraId, ConflictError, NotFoundError, Rendition, Segment, utcnow
from watchkeeper.domain.custody import ExportRecord, GrantScope, canonical_json
from watchkeeper.domain.evidence import EvidenceLock
from watchkeeper.media.protocol import SegmentFiles
from watchkeeper.privacy.crypto import CHUNK_SIZE, DecryptingReader, is_encrypted
from watchkeeper.privacy.grants import Actor, GrantService
from watchkeeper.privacy.keys import SegmentKeys
from watchkeeper.privacy.signing import ExportSigner
from watchkeeper.recorder.export import ClipSource, cut_clip
from watchkeeper.storage.protocols import Store

log = logging.getLogger(__name__)

FORMAT = "watchkeeper-evidence/1"
MANIFEST, SIGNATURE, PUBLIC_KEY, AUDIT = "manifest.json", "manifest.sig", "public-key.pem", "audit.jsonl"
MAX_EXPORT_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """What to export and why."""

    camera_ids: tuple[CameraId, ...]
    start: datetime
    end: datetime
    reason: str
    rendition: Rendition = Rendition.PROTECTED
    parent_id: str | None = None


@dataclass(frozen=True, slots=True)
class ExportDeps:
    """What the export service works with."""

    store: Store
    audit: AuditLog
    grants: GrantService
    signer: ExportSigner
    media_root: Path
    exports_dir: Path
    keys: SegmentKeys | None = None
    clock: Callable[[], datetime] = utcnow
    files: SegmentFiles | None = None
    """Reads segments from either storage tier (``None``: the media folder only)."""


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class ExportService:
    """Builds, lists and releases evidence exports."""

    def __init__(self, deps: ExportDeps) -> None:
        """Use ``deps``."""
        self._deps = deps

    def get(self, export_id: str) -> ExportRecord:
        """One export. Raises ``NotFoundError`` when unknown."""
        record = self._deps.store.exports.get(export_id)
        if record is None:
            raise NotFoundError(f"no export with id {export_id!r}")
        return record

    def bundle_path(self, record: ExportRecord) -> Path:
        """Where the bundle of ``record`` is."""
        return self._deps.exports_dir / record.bundle

    def create(self, who: Actor, request: ExportRequest) -> ExportRecord:
        """Cut, lock, audit, sign and store one export bundle.

        Raises:
            NoGrantError: Originals asked for without a grant covering every camera and the range.
            NotFoundError: A parent export that does not exist, or no footage at all.
            ValueError: A bad range or no reason.
        """
        deps = self._deps
        if not request.reason.strip():
            raise ValueError("an export needs a reason")
        if request.end <= request.start:
            raise ValueError("the export range must end after it starts")
        if request.parent_id is not None:
            self.get(request.parent_id)
        grant_id = None
        if request.rendition is Rendition.ORIGINAL:
            for camera in request.camera_ids:
                grant = deps.grants.authorize(who, camera, request.start, request.end, GrantScope.RECORDINGS)
                grant_id = grant.id
        export_id = f"exp-{deps.clock().strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"
        deps.exports_dir.mkdir(parents=True, exist_ok=True)
        bundle = deps.exports_dir / f"{export_id}.zip"
        segments = {camera: self._segments(camera, request) for camera in request.camera_ids}
        lock_ids = tuple(self._lock(who, export_id, camera, request) for camera in request.camera_ids)
        record = ExportRecord(
            id=export_id,
            created_by=who.username,
            created_at=deps.clock(),
            camera_ids=request.camera_ids,
            start=request.start,
            end=request.end,
            reason=request.reason.strip(),
            rendition=request.rendition.value,
            bundle=bundle.name,
            manifest_sha256="",
            lock_ids=lock_ids,
            grant_id=grant_id,
            parent_id=request.parent_id,
        )
        deps.audit.record(
            who.username,
            AuditAction.EXPORT,
            f"export:{export_id}",
            client=who.client,
            reason=record.reason,
            details={
                "cameras": ",".join(record.camera_ids),
                "rendition": record.rendition,
                "grant": grant_id,
            },
        )
        manifest_hash = self._write_bundle(bundle, record, segments)
        return deps.store.exports.add(replace(record, manifest_sha256=manifest_hash))

    def release(self, export_id: str, who: Actor) -> ExportRecord:
        """Release the evidence locks of an export (its footage falls under retention again); audited.

        Raises:
            ConflictError: If it was already released.
        """
        record = self.get(export_id)
        if record.released_at is not None:
            raise ConflictError(f"export {export_id} was already released")
        now = self._deps.clock()
        for lock_id in record.lock_ids:
            lock = self._deps.store.evidence_locks.get(lock_id)
            if lock is not None and lock.active:
                self._deps.store.evidence_locks.release(lock_id, now)
                self._deps.audit.record(
                    who.username,
                    AuditAction.EVIDENCE_RELEASE,
                    f"camera:{lock.camera_id}",
                    client=who.client,
                    details={"lock": lock_id, "export": export_id},
                )
        return self._deps.store.exports.save(replace(record, released_at=now, released_by=who.username))

    def _segments(self, camera: CameraId, request: ExportRequest) -> list[Segment]:
        found = self._deps.store.segments.list(
            camera, start=request.start, end=request.end, limit=5000, rendition=request.rendition
        )
        if not found:
            raise NotFoundError(f"no {request.rendition.value} footage of camera {camera} in the range")
        return list(found)

    def _lock(self, who: Actor, export_id: str, camera: CameraId, request: ExportRequest) -> int:
        lock = self._deps.store.evidence_locks.add(
            EvidenceLock(
                camera_id=camera,
                start=request.start,
                end=request.end,
                reason=f"export {export_id}: {request.reason.strip()}",
                created_by=who.username,
                created_at=self._deps.clock(),
            )
        )
        self._deps.audit.record(
            who.username,
            AuditAction.EVIDENCE_LOCK,
            f"camera:{camera}",
            client=who.client,
            reason=request.reason.strip(),
            details={"lock": lock.id, "export": export_id},
        )
        return lock.id or 0

    def _source(self, segment: Segment) -> ClipSource:
        files = self._deps.files or SegmentFiles(self._deps.media_root)
        local = files.local_path(segment)
        path = local if local is not None else Path(segment.path)
        keys = self._deps.keys

        def stored() -> BinaryIO:
            return path.open("rb") if local is not None else files.open(segment)

        with stored() as probe:
            encrypted = is_encrypted(probe)
        if keys is not None and encrypted:

            def opener() -> BinaryIO:
                return io.BufferedReader(DecryptingReader(stored(), keys.for_reading), CHUNK_SIZE)

            return ClipSource(segment, path, opener)
        return ClipSource(segment, path) if local is not None else ClipSource(segment, path, stored)

    def _write_bundle(
        self, bundle: Path, record: ExportRecord, segments: dict[CameraId, list[Segment]]
    ) -> str:
        deps = self._deps
        files: dict[str, str] = {}
        segment_rows: list[dict[str, object]] = []
        temp = bundle.with_name(f".{bundle.name}.part")
        with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_STORED) as archive:
            for camera, found in segments.items():
                clip = bundle.with_name(f".{record.id}-{camera}.mp4")
                try:
                    cut_clip([self._source(s) for s in found], record.start, record.end, clip)
                    files[f"media/{camera}.mp4"] = sha256_file(clip)
                    archive.write(clip, f"media/{camera}.mp4")
                finally:
                    clip.unlink(missing_ok=True)
                segment_rows += [_segment_row(deps.media_root, segment) for segment in found]
            targets = [f"camera:{c}" for c in record.camera_ids] + [f"export:{record.id}"]
            if record.grant_id:
                targets.append(f"grant:{record.grant_id}")
            excerpt = "".join(
                json.dumps(r.as_json(), sort_keys=True) + "\n" for r in deps.audit.repository.about(targets)
            )
            archive.writestr(AUDIT, excerpt)
            files[AUDIT] = hashlib.sha256(excerpt.encode()).hexdigest()
            manifest = canonical_json(_manifest(record, files, segment_rows)).encode()
            archive.writestr(MANIFEST, manifest)
            archive.writestr(SIGNATURE, deps.signer.sign(manifest))
            archive.writestr(PUBLIC_KEY, deps.signer.public_pem())
        temp.replace(bundle)
        return hashlib.sha256(manifest).hexdigest()


def _segment_row(media_root: Path, segment: Segment) -> dict[str, object]:
    path = media_root / segment.path
    return {
        "id": segment.id,
        "camera_id": segment.camera_id,
        "start": segment.start.isoformat(),
        "end": segment.end.isoformat(),
        "rendition": segment.rendition.value,
        "path": segment.path,
        "sha256": sha256_file(path) if path.is_file() else segment.sha256,  # warm: hashed when moved
    }


def _manifest(
    record: ExportRecord, files: dict[str, str], segments: Sequence[dict[str, object]]
) -> dict[str, object]:
    return {
        "format": FORMAT,
        "export_id": record.id,
        "parent_id": record.parent_id,
        "created_by": record.created_by,
        "created_at": record.created_at.isoformat(),
        "reason": record.reason,
        "rendition": record.rendition,
        "grant_id": record.grant_id,
        "cameras": list(record.camera_ids),
        "start": record.start.isoformat(),
        "end": record.end.isoformat(),
        "segments": list(segments),
        "files": files,
    }
