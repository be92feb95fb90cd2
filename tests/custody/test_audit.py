"""The audit log: hash-chained, verify finds altered, deleted and truncated records; the CLI reports it."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from tests.custody.conftest import Clock
from watchkeeper.audit.anchor import AnchorFile
from watchkeeper.audit.log import AuditAction, AuditLog
from watchkeeper.audit.verify import all_records, verify_chain, verify_excerpt
from watchkeeper.domain.custody import GENESIS_HASH
from watchkeeper.runtime.cli import app
from watchkeeper.storage.protocols import Store


def _fill(audit: AuditLog, count: int = 5) -> None:
    for index in range(count):
        audit.record(f"user{index}", AuditAction.PLAYBACK, "camera:cam1", client="10.0.0.1", reason="check")


def _sql(tmp_path: Path, statement: str) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'wk.db'}")
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


def test_records_chain_and_verify(store: Store, audit: AuditLog) -> None:
    _fill(audit)
    records = list(all_records(store.audit))
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(records))
    assert verify_chain(records).ok
    assert verify_excerpt(records[1:4]) is None


def test_altered_record_is_the_first_broken_link(tmp_path: Path, store: Store, audit: AuditLog) -> None:
    _fill(audit)
    _sql(tmp_path, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    report = verify_chain(all_records(store.audit))
    assert not report.ok
    assert report.broken_seq == 3
    assert "altered" in (report.problem or "")


def test_rehashed_record_breaks_the_next_link(tmp_path: Path, store: Store, audit: AuditLog) -> None:
    _fill(audit)
    forged = list(all_records(store.audit))[1]
    from dataclasses import replace

    fake = replace(forged, actor="mallory")
    fake = replace(fake, hash=fake.compute_hash())
    forged_sql = f"UPDATE audit_log SET actor = 'mallory', hash = '{fake.hash}' WHERE seq = 2"  # noqa: S608
    _sql(tmp_path, forged_sql)
    report = verify_chain(all_records(store.audit))
    assert report.broken_seq == 3
    assert "does not link" in (report.problem or "")


def test_deleted_record_is_detected(tmp_path: Path, store: Store, audit: AuditLog) -> None:
    _fill(audit)
    _sql(tmp_path, "DELETE FROM audit_log WHERE seq = 2")
    report = verify_chain(all_records(store.audit))
    assert report.broken_seq == 3
    assert "#2 is missing" in (report.problem or "")


def test_truncation_is_detected_by_the_anchor(tmp_path: Path, store: Store, audit: AuditLog) -> None:
    _fill(audit)
    anchors = AnchorFile(tmp_path / "audit" / "anchors.jsonl")
    assert anchors.anchor_head(store.audit) is not None
    assert anchors.anchor_head(store.audit) is None  # unchanged head: no new anchor
    _sql(tmp_path, "DELETE FROM audit_log WHERE seq >= 4")
    assert verify_chain(all_records(store.audit)).ok  # consistent in itself...
    report = verify_chain(all_records(store.audit), anchors.read())
    assert not report.ok  # ...but the anchor names record #5
    assert "truncated" in (report.problem or "")


def test_config_change_is_recorded_once_per_change(store: Store, clock: Clock) -> None:
    audit = AuditLog(store.audit, clock)
    assert audit.config_loaded("a" * 64) is not None
    assert audit.config_loaded("a" * 64) is None
    assert audit.config_loaded("b" * 64) is not None


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "wk.yaml"
    path.write_text(
        f"storage:\n  database_url: sqlite:///{tmp_path / 'wk.db'}\n  media_root: {tmp_path / 'media'}\n"
    )
    return path


def test_cli_audit_verify(tmp_path: Path, config_file: Path, store: Store, audit: AuditLog) -> None:
    _fill(audit)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--config", str(config_file)])
    assert ok.exit_code == 0, ok.output
    assert "intact: 5 record(s)" in ok.output
    _sql(tmp_path, "UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 4")
    broken = runner.invoke(app, ["audit", "verify", "--config", str(config_file)])
    assert broken.exit_code == 1
    assert "#4" in broken.output
    assert "altered" in broken.output
