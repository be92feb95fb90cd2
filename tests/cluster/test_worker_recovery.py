"""A worker killed with SIGKILL and restarted recovers its camera's leftovers, never another worker's files.

Real processes (``watchkeeper serve --role worker``), a real RTSP camera, PostgreSQL and NATS JetStream; both
workers share one media folder, as on one host or NFS.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cluster.roles_support import Cluster, Worker, cluster_rig
from tests.conftest import wait_for
from watchkeeper.domain import CameraId, utcnow
from watchkeeper.simulator import RtspServer
from watchkeeper.storage.factory import open_store

SEGMENT_S = 1.0
QUIET_S = 2.0


def _partials(media: Path, camera: str) -> list[Path]:
    return sorted((media / camera).rglob(".*.mp4.part"))


def _quarantined(media: Path) -> list[str]:
    folder = media / ".quarantine"
    names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    assert all(f"{name}.reason" in names for name in names if not name.endswith(".reason"))
    return [name for name in names if not name.endswith(".reason")]


def _forget_newest_row(rig: Cluster, camera: str) -> str:
    """Delete the row of ``camera``'s newest segment (as a crash between the rename and the index write)."""
    store = open_store(rig.database_url)
    try:
        newest = max(store.segments.list(CameraId(camera), limit=10_000), key=lambda s: s.start)
        assert store.retention.delete([newest.id or 0]) == 1
        return newest.path
    finally:
        store.close()


def _start_two(rig: Cluster) -> tuple[Worker, Worker]:
    first = rig.start_worker("w1", capacity=1, recovery_quiet_s=QUIET_S)
    wait_for(lambda: first.cameras() == ["cam1"], 30, "w1 to lease cam1")
    second = rig.start_worker("w2", capacity=1, recovery_quiet_s=QUIET_S)
    wait_for(lambda: second.cameras() == ["cam2"], 30, "w2 to lease cam2")
    wait_for(
        lambda: len(rig.segments("cam1")) >= 3 and len(rig.segments("cam2")) >= 3, 30, "segments of both"
    )
    return first, second


@pytest.mark.timeout(240)
def test_a_restarted_worker_quarantines_its_killed_partial_and_indexes_once(
    sim_cameras: RtspServer, tmp_path: Path
) -> None:
    cameras = {"cam1": sim_cameras.url("/cam1"), "cam2": sim_cameras.url("/cam2")}
    with cluster_rig(tmp_path, cameras, segment_seconds=SEGMENT_S) as rig:
        media = rig.folder / "media"
        first, second = _start_two(rig)
        killed_at = utcnow()
        first.kill()
        left = _partials(media, "cam1")
        assert left, "the kill left no .part file of cam1"
        lost_row = _forget_newest_row(rig, "cam1")
        assert (media / lost_row).is_file()

        restarted = Worker("w1", first.port, first.config, rig.start(first.config, first.port, "worker"))
        wait_for(lambda: restarted.cameras() == ["cam1"], 15, "the restarted w1 to lease cam1 again")
        # The camera records again at once; its leftovers wait until they have stood still for QUIET_S.
        wait_for(
            lambda: any(s.start > killed_at for s in rig.segments("cam1")), 20, "cam1 recorded after restart"
        )
        wait_for(lambda: not any(p.exists() for p in left), 30, "the killed worker's .part to be quarantined")
        wait_for(lambda: lost_row in [s.path for s in rig.segments("cam1")], 10, "the lost row re-indexed")

        quarantined = _quarantined(media)
        for part in left:
            flat = part.relative_to(media).as_posix().replace("/", "_")
            assert quarantined.count(flat) == 1, quarantined
        assert not [name for name in quarantined if name.startswith("cam2_")], quarantined
        paths = [s.path for s in rig.segments("cam1")]
        assert paths.count(lost_row) == 1
        assert len(paths) == len(set(paths))
        log_text = restarted.log_text()
        assert "recovery of camera cam1:" in log_text
        assert "recovery of camera cam2" not in second.log_text()
        # w2 kept recording cam2 through all of it, and none of its files was moved.
        assert second.cameras() == ["cam2"]
        cam2 = rig.segments("cam2")
        assert any(s.start > killed_at for s in cam2)
        assert all((media / s.path).is_file() for s in cam2)
