"""Per-site media folders: a site worker's tiering pass walks only its own site's hot rows (real Swift).

Site B's hot segments are older and their files are not in site A's folder. Walking every camera's rows,
A's pass would spend its whole examine budget (``EXAMINE_FACTOR x batch``) skipping B's rows and never reach
its own; scoped to its cameras it moves its own footage and leaves B's rows alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.storage.pg import migrated_store
from tests.tiers.conftest import T0, manager
from watchkeeper.domain import CameraId, Segment, StorageTier
from watchkeeper.media.s3 import S3ObjectStore
from watchkeeper.recorder.scope import FootageScope
from watchkeeper.recorder.tiering import EXAMINE_FACTOR
from watchkeeper.storage.protocols import Store

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]

CAM_A = CameraId("cam-a")
CAM_B = CameraId("cam-b")


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with migrated_store(request.param, tmp_path) as opened:
        yield opened


def _segment(store: Store, media: Path, camera: CameraId, minute: int) -> Segment:
    start = T0 + timedelta(minutes=minute)
    relative = f"{camera}/{start:%Y/%m/%d/%H}/{start:%M%S}.mp4"
    (media / relative).parent.mkdir(parents=True, exist_ok=True)
    (media / relative).write_bytes(f"{camera}-{minute}".encode() * 100)
    return store.segments.add(
        Segment(
            camera_id=camera,
            start=start,
            end=start + timedelta(seconds=10),
            path=relative,
            size_bytes=(media / relative).stat().st_size,
            video_codec="h264",
            width=640,
            height=360,
            keyframes=1,
        )
    )


def test_a_site_worker_moves_its_own_footage_past_another_sites_older_rows(
    shared_store: Store, tmp_path: Path, bucket: S3ObjectStore
) -> None:
    media_a, media_b = tmp_path / "site-a", tmp_path / "site-b"
    batch = 2
    site_b = [_segment(shared_store, media_b, CAM_B, minute) for minute in range(EXAMINE_FACTOR * batch + 5)]
    site_a = [_segment(shared_store, media_a, CAM_A, 100 + minute) for minute in range(2)]

    tiering = manager(shared_store, media_a, bucket, batch=batch)
    tiering.scope = FootageScope(cameras=frozenset({CAM_A}), site="a")
    report = tiering.run_once()

    assert (report.moved, report.failed) == (2, 0)
    for segment in site_a:
        moved = shared_store.segments.get(segment.id or 0)
        assert moved is not None
        assert moved.tier is StorageTier.WARM
        assert not (media_a / segment.path).exists()
    assert {s.tier for s in shared_store.segments.list(CAM_B)} == {StorageTier.HOT}
    assert all((media_b / s.path).is_file() for s in site_b)


def test_a_camera_removed_from_the_configuration_is_still_tiered_where_its_folder_is(
    shared_store: Store, tmp_path: Path, bucket: S3ObjectStore
) -> None:
    media_a, media_b = tmp_path / "site-a", tmp_path / "site-b"
    gone, away = CameraId("cam-gone"), CameraId("cam-away")
    here = [_segment(shared_store, media_a, gone, minute) for minute in range(2)]  # no longer configured
    elsewhere = _segment(shared_store, media_b, away, 5)  # no longer configured, its footage at site B

    tiering = manager(shared_store, media_a, bucket, batch=10)
    tiering.scope = FootageScope(cameras=frozenset({CAM_A}), site="a", configured=frozenset({CAM_A, CAM_B}))
    report = tiering.run_once()

    assert (report.moved, report.failed) == (2, 0)
    assert all(not (media_a / segment.path).exists() for segment in here)
    assert {s.tier for s in shared_store.segments.list(gone)} == {StorageTier.WARM}
    assert [s.tier for s in shared_store.segments.list(away)] == [StorageTier.HOT]
    assert (media_b / elsewhere.path).is_file()
