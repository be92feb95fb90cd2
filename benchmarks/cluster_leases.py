"""Lease takeover: how long a worker killed with SIGKILL keeps its cameras from the others (leases only).

No video: a worker process holding N camera leases in a fresh NATS JetStream key-value bucket is killed with
SIGKILL (nothing released); surviving workers in this process take the leases over once they go stale. Per
round, ``takeover_s`` is the time from the kill until the survivors hold every camera; the survivors' lease
sets are sampled every 10 ms and any camera held by two at once is counted in ``double_assigned``.

Baseline printed beside the figures: the configured lease timeout (the least a takeover can take) and the
target of issue 10 (10 s). The end-to-end recording gap is measured by ``benchmarks/cluster_takeover.py``.

Last line, one JSON object: ``{"cameras", "survivors", "rounds", "takeover_s_p50", "takeover_s_max",
"double_assigned", "heartbeat_s", "lease_timeout_s", "target_s"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from watchkeeper.cluster import CameraSpec, WorkerId, WorkerInfo  # noqa: E402
from watchkeeper.cluster.nats import (  # noqa: E402
    BucketSettings,
    LeaseBucket,
    LeaseTiming,
    NatsCameraLeases,
    NatsClusterControl,
)
from watchkeeper.domain import CameraId  # noqa: E402

TARGET_S = 10.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="nats://127.0.0.1:4222", help="NATS server (JetStream enabled)")
    parser.add_argument("--cameras", type=int, default=32, help="cameras held by the killed worker")
    parser.add_argument("--survivors", type=int, default=2, help="workers left to take the cameras over")
    parser.add_argument("--rounds", type=int, default=3, help="kills to measure (a fresh bucket each)")
    parser.add_argument("--heartbeat", type=float, default=2.0, help="cluster.heartbeat_s")
    parser.add_argument("--lease-timeout", type=float, default=6.0, help="cluster.lease_timeout_s")
    parser.add_argument("--quick", action="store_true", help="8 cameras, 1 round, 0.3 s / 1.2 s timings")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)  # internal: run one worker process
    args = parser.parse_args(argv)
    if args.quick:
        args.cameras, args.rounds, args.heartbeat, args.lease_timeout = 8, 1, 0.3, 1.2
    return args


def specs(count: int) -> list[CameraSpec]:
    """Camera specs ``cam-000`` ... for ``count`` cameras."""
    return [CameraSpec(CameraId(f"cam-{n:03d}")) for n in range(count)]


async def run_worker(args: argparse.Namespace) -> None:
    """The victim: hold leases until killed."""
    bucket, worker_id = args.worker
    leases = NatsCameraLeases(
        BucketSettings(url=args.url, bucket=bucket), LeaseTiming(args.heartbeat, args.lease_timeout)
    )
    await leases.start(WorkerInfo(WorkerId(worker_id), "victim", args.cameras), specs(args.cameras))
    async for _ in leases.changes():
        pass


async def wait_status(control: NatsClusterControl, owner: str, count: int, timeout_s: float) -> None:
    """Wait until ``owner`` holds ``count`` leases."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = await control.status()
        if sum(lease.owner == owner for lease in status.leases) == count:
            return
        await asyncio.sleep(0.05)
    raise SystemExit(f"worker {owner} did not take {count} cameras within {timeout_s:g} s")


async def one_round(args: argparse.Namespace, number: int) -> tuple[float, int]:
    """Kill a worker holding every camera; returns (takeover seconds, double-assigned samples)."""
    settings = BucketSettings(url=args.url, bucket=f"wkbench_{uuid.uuid4().hex[:10]}")
    timing = LeaseTiming(args.heartbeat, args.lease_timeout)
    control = await NatsClusterControl.open(settings, args.lease_timeout)
    command = [sys.executable, __file__, "--url", args.url, "--cameras", str(args.cameras)]
    command += ["--heartbeat", str(args.heartbeat), "--lease-timeout", str(args.lease_timeout)]
    command += ["--worker", settings.bucket, f"victim-{number}"]
    victim = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    survivors: list[NatsCameraLeases] = []
    try:
        await wait_status(control, f"victim-{number}", args.cameras, timeout_s=60)
        for index in range(args.survivors):
            leases = NatsCameraLeases(settings, timing)
            info = WorkerInfo(WorkerId(f"survivor-{index}"), "bench", args.cameras)
            await leases.start(info, specs(args.cameras))
            survivors.append(leases)
        await asyncio.sleep(2 * args.heartbeat)
        killed = time.monotonic()
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        doubles = 0
        while True:
            held = [set(leases.held()) for leases in survivors]
            doubles += sum(len(a & b) for i, a in enumerate(held) for b in held[i + 1 :])
            if sum(len(h) for h in held) >= args.cameras:
                took = time.monotonic() - killed
                break
            if time.monotonic() - killed > 10 * args.lease_timeout:
                raise SystemExit("the survivors did not take every camera over")
            await asyncio.sleep(0.01)
        return took, doubles
    finally:
        if victim.poll() is None:
            victim.kill()
        for leases in survivors:
            await leases.stop()
        bucket = await LeaseBucket.open(settings)
        await bucket.destroy()
        await bucket.close()
        await control.close()


async def main(args: argparse.Namespace) -> None:
    """Measure ``args.rounds`` takeovers and print the figures."""
    results = [await one_round(args, number) for number in range(args.rounds)]
    takeovers = [took for took, _ in results]
    print(f"{'round':>5}  {'takeover_s':>10}  {'double':>6}")
    for number, (took, doubles) in enumerate(results):
        print(f"{number:>5}  {took:>10.2f}  {doubles:>6}")
    print(f"baseline: lease timeout {args.lease_timeout:g} s (floor), target {TARGET_S:g} s")
    summary = {
        "cameras": args.cameras,
        "survivors": args.survivors,
        "rounds": args.rounds,
        "takeover_s_p50": round(statistics.median(takeovers), 2),
        "takeover_s_max": round(max(takeovers), 2),
        "double_assigned": sum(doubles for _, doubles in results),
        "heartbeat_s": args.heartbeat,
        "lease_timeout_s": args.lease_timeout,
        "target_s": TARGET_S,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    parsed = parse_args()
    asyncio.run(run_worker(parsed) if parsed.worker else main(parsed))
