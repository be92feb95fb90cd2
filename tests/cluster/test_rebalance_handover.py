"""A worker that joins takes its share of the cameras by drain handovers, without a recording gap.

Real processes (``watchkeeper serve --role worker``), real RTSP cameras, PostgreSQL and NATS JetStream; the
recording gaps are read from the segment index.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.cluster.roles_support import REPO, cluster_rig, recording_gaps
from tests.conftest import wait_for
from watchkeeper.domain import utcnow
from watchkeeper.simulator import RtspServer

SEGMENT_S = 2.0
CAMERAS = ("cam1", "cam2", "cam3", "cam4")


@pytest.mark.timeout(300)
def test_a_joining_worker_takes_half_the_cameras_without_a_gap_longer_than_a_segment(
    sim_cameras: RtspServer, tmp_path: Path
) -> None:
    urls = {camera: sim_cameras.url(f"/cam{1 + index % 2}") for index, camera in enumerate(CAMERAS)}
    with cluster_rig(tmp_path, urls, segment_seconds=SEGMENT_S) as rig:
        first = rig.start_worker("w1")
        wait_for(lambda: first.cameras() == list(CAMERAS), 40, "w1 to lease all four cameras")
        wait_for(lambda: all(len(rig.segments(c)) >= 2 for c in CAMERAS), 60, "two segments of each")
        joined_at = utcnow()
        second = rig.start_worker("w2")
        wait_for(
            lambda: len(first.cameras()) == 2 and len(second.cameras()) == 2, 90, "two cameras on each worker"
        )
        assert sorted(first.cameras() + second.cameras()) == list(CAMERAS)
        settled = utcnow() + timedelta(seconds=2 * SEGMENT_S)
        wait_for(
            lambda: all(any(s.start > settled for s in rig.segments(c)) for c in CAMERAS),
            60,
            "every camera recorded after the moves",
        )
        for camera in CAMERAS:
            gaps = recording_gaps(rig.segments(camera), after=joined_at)
            assert gaps, camera
            assert max(gaps) <= SEGMENT_S, (camera, gaps)
        moves = [line for line in first.log_text().splitlines() if "to rebalance" in line]
        assert len(moves) == 2, moves
        assert len(first.cameras()) == 2  # no camera moved back
        status = subprocess.run(
            [sys.executable, "-m", "watchkeeper", "cluster", "status", "--config", str(first.config)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=REPO,
        )
        assert status.returncode == 0, status.stderr
        assert "w2" in status.stdout
