"""Signed evidence exports: bundle contents, evidence lock + release (audited), offline verification that
names tampered media, a wrong key, a missing file and a tampered audit excerpt; re-exports chain."""

from __future__ import annotations

import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.custody.conftest import CAM, T0, Clock, index_segments, record_segments
from watchkeeper.audit.log import AuditLog
from watchkeeper.audit.verify import all_records
from watchkeeper.domain import Camera, Rendition, Site, SiteId
from watchkeeper.domain.custody import NoGrantError
from watchkeeper.privacy.bundle_verify import verify_bundle
from watchkeeper.privacy.crypto import SegmentSealer
from watchkeeper.privacy.exports import AUDIT, MANIFEST, ExportDeps, ExportRequest, ExportService
from watchkeeper.privacy.grants import Actor, GrantRequest, GrantService
from watchkeeper.privacy.keys import SegmentKeys
from watchkeeper.privacy.signing import ExportSigner
from watchkeeper.runtime.cli import app
from watchkeeper.storage.protocols import Store

IVY = Actor("ivy", "10.0.0.9")


@pytest.fixture
def exports(tmp_path: Path, store: Store, keys: SegmentKeys, clip_file: Path, clock: Clock) -> ExportService:
    media = tmp_path / "media"
    store.sites.upsert(Site(SiteId("s"), "Site"))
    store.cameras.upsert(Camera(CAM, "Cam 1", SiteId("s")))
    index_segments(store, record_segments(clip_file, media, SegmentSealer(keys.for_writing)))
    index_segments(store, record_segments(clip_file, media / "p", None), prefix="p/", protected=True)
    audit = AuditLog(store.audit, clock)
    grants = GrantService(store.grants, audit, clock=clock)
    signer = ExportSigner.open(tmp_path / "keys" / "sign.key")
    return ExportService(ExportDeps(store, audit, grants, signer, media, tmp_path / "exports", keys, clock))


def _ask(rendition: Rendition = Rendition.PROTECTED, parent: str | None = None) -> ExportRequest:
    return ExportRequest((CAM,), T0, T0 + timedelta(seconds=2), "incident 42 evidence", rendition, parent)


def _rewrite(bundle: Path, name: str, data: bytes | None) -> None:
    with zipfile.ZipFile(bundle) as source:
        members = {item: source.read(item) for item in source.namelist()}
    if data is None:
        del members[name]
    else:
        members[name] = data
    with zipfile.ZipFile(bundle, "w") as target:
        for item, content in members.items():
            target.writestr(item, content)


def test_protected_export_is_signed_locked_and_verifies(store: Store, exports: ExportService) -> None:
    record = exports.create(IVY, _ask())
    bundle = exports.bundle_path(record)
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
    assert {MANIFEST, "manifest.sig", "public-key.pem", AUDIT, f"media/{CAM}.mp4"} <= names
    report = verify_bundle(bundle)
    assert report.ok, report.problems
    assert report.export_id == record.id
    locks = store.evidence_locks.list(CAM)
    assert [lock.id for lock in locks] == list(record.lock_ids)
    released = exports.release(record.id, IVY)
    assert released.released_at is not None
    assert store.evidence_locks.list(CAM) == []
    actions = [r.action for r in all_records(store.audit)]
    assert {"evidence.lock", "export", "evidence.release"} <= set(actions)


def test_reexport_references_its_parent(exports: ExportService) -> None:
    parent = exports.create(IVY, _ask())
    child = exports.create(IVY, _ask(parent=parent.id))
    assert child.parent_id == parent.id
    with zipfile.ZipFile(exports.bundle_path(child)) as archive:
        assert f'"parent_id":"{parent.id}"' in archive.read(MANIFEST).decode()


def test_original_export_needs_a_grant(store: Store, exports: ExportService, grants: GrantService) -> None:
    with pytest.raises(NoGrantError):
        exports.create(IVY, _ask(Rendition.ORIGINAL))
    ask = GrantRequest(
        "ivy", (CAM,), T0 - timedelta(minutes=1), T0 + timedelta(minutes=1), "incident 42 originals"
    )
    grant = grants.approve(grants.request(ask).id, Actor("abe"))
    made = exports.create(IVY, _ask(Rendition.ORIGINAL))
    assert made.grant_id == grant.id
    assert verify_bundle(exports.bundle_path(made)).ok


@pytest.mark.parametrize(
    ("member", "data", "expected"),
    [
        (f"media/{CAM}.mp4", b"not the footage", "tampered media"),
        (AUDIT, b"{}\n", "tampered audit excerpt"),
        (f"media/{CAM}.mp4", None, "missing file"),
        ("manifest.sig", None, "manifest.sig: missing file"),
    ],
)
def test_verify_names_what_fails(
    exports: ExportService, member: str, data: bytes | None, expected: str
) -> None:
    bundle = exports.bundle_path(exports.create(IVY, _ask()))
    _rewrite(bundle, member, data)
    report = verify_bundle(bundle)
    assert not report.ok
    assert any(expected in problem for problem in report.problems), report.problems


def test_wrong_key_and_cli(tmp_path: Path, exports: ExportService) -> None:
    bundle = exports.bundle_path(exports.create(IVY, _ask()))
    other = ExportSigner.open(tmp_path / "other.key").public_pem()
    report = verify_bundle(bundle, other)
    assert any("signature does not verify" in problem for problem in report.problems)
    (tmp_path / "other.pem").write_bytes(other)
    runner = CliRunner()
    failed = runner.invoke(
        app, ["export", "verify", str(bundle), "--public-key", str(tmp_path / "other.pem")]
    )
    assert failed.exit_code == 1
    assert "signature does not verify" in failed.output
    ok = runner.invoke(app, ["export", "verify", str(bundle)])
    assert ok.exit_code == 0, ok.output


def test_an_edited_manifest_fails_the_signature(exports: ExportService) -> None:
    bundle = exports.bundle_path(exports.create(IVY, _ask()))
    with zipfile.ZipFile(bundle) as source:
        manifest = source.read(MANIFEST)
    assert b"incident 42 evidence" in manifest
    _rewrite(bundle, MANIFEST, manifest.replace(b"incident 42 evidence", b"incident 43 evidence"))
    report = verify_bundle(bundle)
    assert not report.ok
    assert any("signature does not verify" in problem for problem in report.problems), report.problems
