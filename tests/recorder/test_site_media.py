"""Per-site media folders: a site worker's retention acts only on its own site's footage (SQLite, PostgreSQL).

Two "sites" each have their own media folder; both index into one shared store. Quota pressure or expired
days at site A must never delete site B's index rows or files (B's files are simply not in A's folder).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.recorder.test_retention import record
from tests.storage.pg import migrated_store
from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.cluster import ClusterConfig
from watchkeeper.domain import CameraId, Segment, StorageTier
from watchkeeper.integrations.prometheus import PrometheusExporter
from watchkeeper.recorder import retention as retention_module
from watchkeeper.recorder.retention import CameraRetention, EvictionReason, RetentionManager, RetentionPolicy
from watchkeeper.recorder.scope import FootageScope
from watchkeeper.runtime.metrics import RuntimeMetrics
from watchkeeper.storage.protocols import Store

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
CAM_A = CameraId("cam-a")
CAM_B = CameraId("cam-b")
GONE = CameraId("cam-gone")
AWAY = CameraId("cam-away")
SCOPE_A = FootageScope(cameras=frozenset({CAM_A}), site="a")
SCOPE_B = FootageScope(cameras=frozenset({CAM_B}), site="b")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """One shared index, on SQLite and then on a fresh PostgreSQL database."""
    with migrated_store(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture
def media_a(tmp_path: Path) -> Path:
    root = tmp_path / "site-a"
    root.mkdir()
    return root


@pytest.fixture
def media_b(tmp_path: Path) -> Path:
    root = tmp_path / "site-b"
    root.mkdir()
    return root


def _manager(store: Store, media: Path, scope: FootageScope, **rules: int) -> RetentionManager:
    policy = RetentionPolicy(
        cameras=(CameraRetention(CAM_A, 7, 14), CameraRetention(CAM_B, 7, 14)),
        max_bytes=rules.get("max_bytes"),
        min_free_bytes=rules.get("min_free_bytes", 0),
    )
    manager = RetentionManager(store, media, policy, clock=lambda: NOW)
    manager.scope = scope
    return manager


def _files(media: Path, segments: list[Segment]) -> list[bool]:
    return [(media / segment.path).is_file() for segment in segments]


def _ids(store: Store, camera: CameraId) -> list[int | None]:
    return [segment.id for segment in store.segments.list(camera)]


def test_disk_pressure_at_one_site_leaves_the_other_sites_rows_and_files(
    store: Store, media_a: Path, media_b: Path
) -> None:
    # Site B's footage is older than A's: an eviction over the whole index would pick B's first.
    site_b = [record(store, media_b, NOW - timedelta(hours=10 - i), CAM_B) for i in range(4)]
    site_a = [record(store, media_a, NOW - timedelta(hours=4 - i), CAM_A) for i in range(4)]
    b_ids = _ids(store, CAM_B)

    report = _manager(store, media_a, SCOPE_A, min_free_bytes=2**62).run_once()  # A's disk is "full"

    assert _ids(store, CAM_B) == b_ids
    assert _files(media_b, site_b) == [True] * 4
    assert report.evicted(EvictionReason.QUOTA).segments == 4  # A's own footage goes, oldest first
    assert _ids(store, CAM_A) == []
    assert _files(media_a, site_a) == [False] * 4
    assert report.unmet_bytes > 0  # the rest of the need is not A's to meet


def test_disk_full_eviction_at_one_site_takes_only_its_own_footage(
    store: Store, media_a: Path, media_b: Path
) -> None:
    site_b = [record(store, media_b, NOW - timedelta(hours=10 - i), CAM_B) for i in range(3)]
    record(store, media_a, NOW - timedelta(hours=1), CAM_A)

    report = _manager(store, media_a, SCOPE_A, min_free_bytes=2**62).free_space()

    assert report.evicted(EvictionReason.DISK_FULL).segments == 1
    assert [s.id for s in store.segments.list(CAM_B)] == [s.id for s in site_b]
    assert _files(media_b, site_b) == [True] * 3


def test_index_quota_counts_only_the_sites_own_footage(store: Store, media_a: Path, media_b: Path) -> None:
    for i in range(5):
        record(store, media_b, NOW - timedelta(hours=20 - i), CAM_B, size=1000)
    kept_a = [record(store, media_a, NOW - timedelta(hours=3 - i), CAM_A, size=1000) for i in range(3)]

    # 3000 bytes of A's footage against a 2500-byte quota: one segment of A goes, none of B's.
    report = _manager(store, media_a, SCOPE_A, max_bytes=2500).run_once()
    assert report.evicted(EvictionReason.QUOTA).segments == 1
    assert _ids(store, CAM_A) == [s.id for s in kept_a[1:]]
    assert len(store.segments.list(CAM_B)) == 5
    # Under the quota at site B (5000 bytes of its own against 10000): nothing of either site goes.
    assert _manager(store, media_b, SCOPE_B, max_bytes=10_000).run_once().total_segments == 0
    assert len(store.segments.list(CAM_A)) == 2


def test_expired_days_are_evicted_only_by_the_site_holding_the_footage(
    store: Store, media_a: Path, media_b: Path
) -> None:
    old_b = record(store, media_b, NOW - 30 * DAY, CAM_B)
    old_a = record(store, media_a, NOW - 30 * DAY, CAM_A)

    report_a = _manager(store, media_a, SCOPE_A).run_once()
    assert report_a.total_segments == 1
    assert store.segments.get(old_a.id or 0) is None
    assert store.segments.get(old_b.id or 0) is not None
    assert (media_b / old_b.path).is_file()

    report_b = _manager(store, media_b, SCOPE_B).run_once()  # B's own worker deletes B's expired footage
    assert report_b.total_segments == 1
    assert store.segments.get(old_b.id or 0) is None
    assert not (media_b / old_b.path).exists()


def test_a_node_never_deletes_the_row_of_a_camera_outside_its_scope(
    store: Store, media_a: Path, media_b: Path
) -> None:
    foreign = record(store, media_b, NOW - timedelta(hours=1), CAM_B)
    manager = _manager(store, media_a, SCOPE_A)
    evicted = store.retention.delete_unlocked([foreign.id or 0], manager._remove_file)
    assert evicted == []
    assert store.segments.get(foreign.id or 0) is not None
    assert (media_b / foreign.path).is_file()


def test_an_unscoped_node_keeps_todays_behaviour_over_the_whole_index(
    store: Store, media_a: Path, media_b: Path
) -> None:
    # One box (or workers sharing one media folder): every camera's footage is this node's.
    record(store, media_a, NOW - timedelta(hours=2), CAM_A)
    record(store, media_a, NOW - timedelta(hours=1), CAM_B)
    report = _manager(store, media_a, FootageScope(), min_free_bytes=2**62).run_once()
    assert report.total_segments == 2


def test_scoped_repository_queries_filter_by_camera(store: Store, media_a: Path, media_b: Path) -> None:
    record(store, media_b, NOW - timedelta(hours=3), CAM_B, size=700)
    mine = record(store, media_a, NOW - timedelta(hours=2), CAM_A, size=300)
    retention = store.retention
    assert [s.id for s in retention.oldest_unlocked(cameras={CAM_A})] == [mine.id]
    assert [s.id for s in retention.oldest_unlocked(tier=StorageTier.HOT, cameras={CAM_A})] == [mine.id]
    assert retention.oldest_unlocked(cameras=set()) == []
    assert len(retention.oldest_unlocked()) == 2
    assert retention.total_bytes(cameras={CAM_A}) == 300
    assert retention.total_bytes(cameras={CAM_A, CAM_B}) == retention.total_bytes() == 1000
    assert [s.id for s in store.tiers.oldest_hot(cameras={CAM_A})] == [mine.id]
    assert [s.id for s in store.tiers.hot_ending_before(NOW, cameras=[CAM_A])] == [mine.id]
    assert len(store.tiers.hot_ending_before(NOW)) == 2
    assert len(retention.oldest_unlocked(offset=1)) == 1
    assert [s.id for s in retention.expired(CAM_A, NOW, with_events=False, offset=0)] == [mine.id]
    assert retention.expired(CAM_A, NOW, with_events=False, offset=1) == []
    # The warm-leftover sweep of a site worker walks only its own cameras' warm rows.
    assert store.tiers.mark_warm(mine.id or 0, "k/a", "0" * 64) is not None
    assert [s.id for s in store.tiers.warm_after(0, cameras={CAM_A})] == [mine.id]
    assert store.tiers.warm_after(0, cameras={CAM_B}) == []
    assert len(store.tiers.warm_after(0)) == 1


def test_a_camera_removed_from_the_configuration_still_expires_where_its_folder_is(
    store: Store, media_a: Path, media_b: Path
) -> None:
    pinned = ClusterConfig(leases="nats", site="a", pin_cameras_to_sites=True)
    scope = FootageScope.of(pinned, [_camera("cam-a", "a"), _camera("cam-b", "b")])
    old_gone = record(store, media_a, NOW - 30 * DAY, GONE)  # removed from the config: its folder is here
    recent_gone = record(store, media_a, NOW - 1 * DAY, GONE)
    old_away = record(store, media_b, NOW - 30 * DAY, AWAY)  # removed too, but its footage is at site B
    assert scope.resolved(store.retention, media_a).cameras == frozenset({CAM_A, GONE})
    assert scope.resolved(store.retention, media_b).cameras == frozenset({CAM_A, AWAY})
    assert FootageScope().resolved(store.retention, media_a).everything

    report = _manager(store, media_a, scope).run_once()  # the default day rules apply
    assert report.evicted(EvictionReason.RETAIN_DAYS).segments == 1
    assert store.segments.get(old_gone.id or 0) is None
    assert not (media_a / old_gone.path).exists()
    assert store.segments.get(recent_gone.id or 0) is not None
    assert store.segments.get(old_away.id or 0) is not None
    assert (media_b / old_away.path).is_file()
    # The quotas count it and evict it.
    quota = _manager(store, media_a, scope, max_bytes=0).run_once()
    assert quota.evicted(EvictionReason.QUOTA).segments == 1
    assert store.segments.get(recent_gone.id or 0) is None
    assert store.segments.get(old_away.id or 0) is not None
    scope_b = FootageScope.of(
        pinned.model_copy(update={"site": "b"}), [_camera("cam-a", "a"), _camera("cam-b", "b")]
    )
    assert _manager(store, media_b, scope_b).run_once().total_segments == 1  # site B's worker expires it
    assert store.segments.get(old_away.id or 0) is None


def test_a_site_worker_keeps_the_rows_of_hot_footage_whose_file_is_at_another_site(
    store: Store,
    media_a: Path,
    media_b: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # cam-a moved from site B to site A: its old footage stays in B's folder, its rows in the shared index.
    monkeypatch.setattr(retention_module, "BATCH", 2)  # the kept rows fill whole pages
    moved = [record(store, media_b, NOW - timedelta(days=20, hours=5 - i), CAM_A) for i in range(5)]
    own_old = record(store, media_a, NOW - 10 * DAY, CAM_A)
    own = [record(store, media_a, NOW - timedelta(hours=3 - i), CAM_A) for i in range(3)]
    manager = _manager(store, media_a, SCOPE_A, min_free_bytes=2**62)

    with caplog.at_level(logging.WARNING, logger="watchkeeper.recorder.retention"):
        report = manager.run_once()
        manager.run_once()
    assert [store.segments.get(s.id or 0) is not None for s in moved] == [True] * 5
    assert _files(media_b, moved) == [True] * 5
    assert report.absent_kept == 5
    assert "5 row(s) kept whose file is not in this node's folder" in report.summary()
    assert manager.stats.snapshot().absent_kept == 10
    metrics = RuntimeMetrics(media_a, list, manager.stats.snapshot)
    text = PrometheusExporter(metrics.snapshot, process_metrics=False).render().decode()
    assert "watchkeeper_retention_absent_kept_total 10.0" in text
    # Its own footage behind them still goes: expired days, then the disk quota (the kept rows skipped).
    assert report.evicted(EvictionReason.RETAIN_DAYS).segments == 1
    assert store.segments.get(own_old.id or 0) is None
    assert report.evicted(EvictionReason.QUOTA).segments == 3
    assert _files(media_a, own) == [False] * 3
    notes = [r for r in caplog.records if "has indexed footage whose files are not in" in r.getMessage()]
    assert len(notes) == 1  # once per camera
    # The row of a segment whose file vanished after it was chosen stays too.
    assert store.retention.delete_unlocked([moved[0].id or 0], manager._remove_file) == []
    # One box, or one shared folder: a row without its file is removed as before.
    assert _manager(store, media_a, FootageScope()).run_once().total_segments == 5
    assert store.segments.list(CAM_A) == []


def _camera(camera_id: str, site: str) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": camera_id,
            "name": camera_id,
            "site": site,
            "inputs": [{"url": "x.mp4", "roles": ["record", "detect"]}],
        }
    )


def test_scope_from_configuration() -> None:
    cameras = [_camera("cam-a", "a"), _camera("cam-a2", "a"), _camera("cam-b", "b")]
    pinned = ClusterConfig(leases="nats", site="a", pin_cameras_to_sites=True)
    scope = FootageScope.of(pinned, cameras)
    assert scope.cameras == frozenset({CameraId("cam-a"), CameraId("cam-a2")})
    assert scope.covers(CameraId("cam-a"))
    assert not scope.covers(CAM_B)
    assert "2 camera(s) of site a" in scope.describe()
    assert (
        FootageScope.of(ClusterConfig(leases="nats", pin_cameras_to_sites=True), cameras).cameras
        == frozenset()
    )
    # One box, or unpinned workers sharing one folder: every camera.
    assert FootageScope.of(ClusterConfig(leases="nats", site="a"), cameras).everything
    assert FootageScope.of(ClusterConfig(site="a", pin_cameras_to_sites=True), cameras).everything
