"""Camera takeover between worker processes: how long a killed worker's camera goes unrecorded, and a drain's.

Two real ``watchkeeper serve --role worker`` processes over PostgreSQL and NATS JetStream (a fresh database,
stream and lease bucket), one simulated RTSP camera. Each round:

1. the worker holding the camera is killed with SIGKILL (no lease released, the open segment lost);
   ``takeover_s``: kill until the other worker's ``/api/health`` lists the camera;
   ``gap_s``: the end of the last indexed segment before the kill to the start of the first one after it;
2. the killed worker is started again.

Then one drain (``watchkeeper worker drain``) of the holder: ``drain_gap_s``, the longest hole in the index
around it. Baseline printed beside the figures: the configured lease timeout (the least a takeover can take)
and the segment length (the most a drain's gap may be).

Last line: ``{"rounds", "takeover_s_p50", "takeover_s_max", "gap_s_p50", "gap_s_max", "drain_gap_s",
"lease_timeout_s", "segment_s"}``. Run ``python benchmarks/cluster_takeover.py --help``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cluster.roles_support import LEASE_TIMEOUT_S, Cluster, Worker, cluster_rig, recording_gaps  # noqa: E402
from tests.conftest import TEST_FOOTAGE, wait_for  # noqa: E402
from watchkeeper.domain import utcnow  # noqa: E402
from watchkeeper.simulator import serve_simulated_cameras  # noqa: E402

HEARTBEAT_S = 0.5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="kills to measure")
    parser.add_argument("--segment-s", type=float, default=2.0, help="segment length")
    return parser.parse_args(argv)


def holder(workers: list[Worker]) -> Worker | None:
    """The worker that records cam1 now."""
    return next((worker for worker in workers if worker.cameras() == ["cam1"]), None)


def kill_round(rig: Cluster, workers: list[Worker]) -> tuple[float, float, Worker]:
    """Kill the holder; returns (takeover_s, gap_s, the killed worker's replacement)."""
    victim = wait_for(lambda: holder(workers), 30, "a worker recording cam1")
    assert isinstance(victim, Worker)
    wait_for(lambda: len(rig.segments("cam1")) >= 2, 30, "two segments of cam1")
    survivor = next(worker for worker in workers if worker is not victim)
    killed_at = utcnow()
    started = time.monotonic()
    victim.kill()
    wait_for(lambda: survivor.cameras() == ["cam1"], 30, "the survivor to take cam1")
    takeover_s = time.monotonic() - started
    wait_for(
        lambda: any(segment.start > killed_at for segment in rig.segments("cam1")),
        30,
        "a segment recorded after the takeover",
    )
    segments = rig.segments("cam1")
    before = max(segment.end for segment in segments if segment.start <= killed_at)
    after = min(segment.start for segment in segments if segment.start > killed_at)
    gap_s = (after - before).total_seconds()
    replacement = rig.start_worker(victim.worker_id)  # the same id comes back (a restarted host)
    workers[workers.index(victim)] = replacement
    return takeover_s, gap_s, replacement


def drain_round(rig: Cluster, workers: list[Worker], segment_s: float) -> float:
    """Drain the holder with the command line; the longest hole in the index around the drain."""
    victim = wait_for(lambda: holder(workers), 30, "a worker recording cam1")
    assert isinstance(victim, Worker)
    began = utcnow()
    command = [sys.executable, "-m", "watchkeeper", "worker", "drain", victim.worker_id]
    command += ["--config", str(victim.config), "--timeout", "60"]
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT, timeout=120)
    time.sleep(3 * segment_s)
    gaps = recording_gaps(rig.segments("cam1"), after=began)
    return max(gaps, default=0.0)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv: list[str] | None = None) -> None:
    """Run the rounds and print the JSON summary as the last line."""
    args = parse_args(argv)
    loads = [loadavg()]
    takeovers: list[float] = []
    gaps: list[float] = []
    with serve_simulated_cameras(1, TEST_FOOTAGE) as cameras, tempfile.TemporaryDirectory() as folder:
        urls = {"cam1": cameras.url("/cam1")}
        with cluster_rig(Path(folder), urls, segment_seconds=args.segment_s) as rig:
            workers = [rig.start_worker("bench-w1"), rig.start_worker("bench-w2")]
            for index in range(args.rounds):
                takeover_s, gap_s, _ = kill_round(rig, workers)
                takeovers.append(takeover_s)
                gaps.append(gap_s)
                print(
                    f"round {index + 1}: takeover {takeover_s:.2f} s, recording gap {gap_s:.2f} s", flush=True
                )
            drain_gap_s = drain_round(rig, workers, args.segment_s)
            print(f"drain: longest recording gap {drain_gap_s:.2f} s (segment {args.segment_s:g} s)")
    loads.append(loadavg())
    print(
        f"baseline: lease timeout {LEASE_TIMEOUT_S:g} s (heartbeat {HEARTBEAT_S:g} s), "
        f"segment {args.segment_s:g} s"
    )
    print(f"load average (1, 5, 15 min) at start and end: {loads}")
    print(
        json.dumps(
            {
                "rounds": args.rounds,
                "takeover_s_p50": round(statistics.median(takeovers), 2),
                "takeover_s_max": round(max(takeovers), 2),
                "gap_s_p50": round(statistics.median(gaps), 2),
                "gap_s_max": round(max(gaps), 2),
                "drain_gap_s": round(drain_gap_s, 2),
                "lease_timeout_s": LEASE_TIMEOUT_S,
                "segment_s": args.segment_s,
            }
        )
    )


if __name__ == "__main__":
    main()
