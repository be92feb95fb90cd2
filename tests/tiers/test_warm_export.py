"""Signed evidence exports cut from segments in the warm tier (protected and encrypted originals)."""

from __future__ import annotations

import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from tests.custody.conftest import CAM, T0, index_segments, record_segments
from tests.tiers.conftest import manager
from watchkeeper.audit.log import AuditLog
from watchkeeper.domain import Camera, Rendition, Site, SiteId, StorageTier
from watchkeeper.media.protocol import SegmentFiles
from watchkeeper.media.s3 import S3ObjectStore
from watchkeeper.privacy.bundle_verify import verify_bundle
from watchkeeper.privacy.crypto import SegmentSealer
from watchkeeper.privacy.exports import MANIFEST, ExportDeps, ExportRequest, ExportService
from watchkeeper.privacy.grants import Actor, GrantRequest, GrantService
from watchkeeper.privacy.keys import SegmentKeys
from watchkeeper.privacy.signing import ExportSigner
from watchkeeper.storage.protocols import Store

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]
IVY = Actor("ivy", "10.0.0.9")


def test_exports_read_warm_segments(
    tmp_path: Path,
    store: Store,
    media_root: Path,
    bucket: S3ObjectStore,
    clip_file: Path,
    keys: SegmentKeys,
) -> None:
    store.sites.upsert(Site(SiteId("s"), "Site"))
    store.cameras.upsert(Camera(CAM, "Cam 1", SiteId("s")))
    index_segments(store, record_segments(clip_file, media_root, SegmentSealer(keys.for_writing)))
    index_segments(store, record_segments(clip_file, media_root / "p", None), prefix="p/", protected=True)
    tiering = manager(store, media_root, bucket, lambda: T0 + timedelta(days=1))
    assert tiering.run_once().failed == 0
    assert not [p for p in media_root.rglob("*.mp4") if p.is_file()]  # nothing left on the local disk

    audit = AuditLog(store.audit)
    grants = GrantService(store.grants, audit)
    signer = ExportSigner.open(tmp_path / "keys" / "sign.key")
    deps = ExportDeps(
        store,
        audit,
        grants,
        signer,
        media_root,
        tmp_path / "exports",
        keys,
        files=SegmentFiles(media_root, bucket),
    )
    exports = ExportService(deps)
    window = (T0, T0 + timedelta(seconds=2))
    protected = exports.create(IVY, ExportRequest((CAM,), *window, "incident 42 evidence"))
    assert verify_bundle(exports.bundle_path(protected)).ok
    with zipfile.ZipFile(exports.bundle_path(protected)) as archive:
        manifest = json.loads(archive.read(MANIFEST))
        assert archive.getinfo(f"media/{CAM}.mp4").file_size > 1000
    by_id = {s.id: s for s in store.segments.list(CAM, rendition=Rendition.PROTECTED, limit=100)}
    rows = manifest["segments"]
    assert rows
    for row in rows:  # the hashes recorded when the segments moved stand in for the absent local files
        segment = by_id[row["id"]]
        assert segment.tier is StorageTier.WARM
        assert row["sha256"] == segment.sha256

    ask = GrantRequest("ivy", (CAM,), T0 - timedelta(minutes=1), T0 + timedelta(minutes=1), "incident 42")
    grants.approve(grants.request(ask).id, Actor("abe"))
    original = exports.create(
        IVY, ExportRequest((CAM,), *window, "incident 42 originals", Rendition.ORIGINAL)
    )
    assert verify_bundle(exports.bundle_path(original)).ok
