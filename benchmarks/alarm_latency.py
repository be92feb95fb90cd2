"""Alarm latency: from the frame that triggers an alarm on a live RTSP camera to the incident on a console.

What it does, in one run:

1. Serves N simulated RTSP cameras (``watchkeeper.simulator``, short loops, a walker crossing the frame).
2. Runs a real ``watchkeeper serve`` over them with an analytics mapping that turns a *motion* event into an
   ``INTRUSION_AFTER_HOURS`` incident (one-second correlation window: each crossing opens a new incident).
   Motion, not an object zone rule: object events need the detector model and the zone pipeline, which are
   being integrated separately; the path measured here is frame -> motion event -> bus -> incident service ->
   database -> bus -> journal -> WebSocket. The detector's own per-frame time is in its own benchmark.
3. Connects C WebSocket consoles (Python ``websockets`` clients standing in for browsers, same protocol and
   authentication as the web console) and records when each receives each ``incident`` push.
4. ``frame_to_console_ms``: for each new incident, arrival at the first console minus the incident's
   ``created_at``, which the pipeline sets to the wall-clock time the triggering frame's packet was received
   from the camera (same host, same clock). ``fanout_ms``: for each incident and console, arrival at that
   console minus arrival at the first console.

Last line: ``{"alarms", "frame_to_console_ms_p50", "frame_to_console_ms_p95", "consoles", "fanout_ms_p95"}``.
Run ``python benchmarks/alarm_latency.py --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import LiveServer, free_port, start_server, stop_server  # noqa: E402
from watchkeeper.simulator import FootageSpec, serve_simulated_cameras  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alarms", type=int, default=200, help="incidents to measure")
    parser.add_argument("--cameras", type=int, default=8, help="simulated cameras")
    parser.add_argument("--consoles", type=int, default=200, help="concurrent WebSocket consoles")
    parser.add_argument("--loop-s", type=float, default=2.0, help="length of one footage loop (one crossing)")
    parser.add_argument("--timeout-s", type=float, default=600.0, help="give up after this long")
    return parser.parse_args(argv)


def write_config(folder: Path, urls: dict[str, str], port: int) -> Path:
    """A server configuration: cameras, fast motion events, motion -> incident, 1 s correlation window."""
    document = {
        "sites": [{"id": "bench", "name": "Benchmark site"}],
        "cameras": [
            {
                "id": camera_id,
                "name": camera_id,
                "site": "bench",
                "inputs": [{"url": url, "roles": ["record", "detect"]}],
            }
            for camera_id, url in urls.items()
        ],
        "recording": {
            "segment_seconds": 2.0,
            "stall_timeout_s": 5,
            "reconnect_initial_s": 0.5,
            "reconnect_max_s": 2,
        },
        "detection": {"fps": 10, "motion": {"min_frames": 2, "cooldown_s": 0.3}},
        "storage": {"database_url": "sqlite:///data/watchkeeper.db", "media_root": "data/media"},
        "server": {"host": "127.0.0.1", "port": port},
        "incidents": {
            "analytics": [{"type": "INTRUSION_AFTER_HOURS", "kind": "motion"}],
            "correlation_window_s": 1,
        },
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "watchkeeper.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Arrivals:
    """When each console received each new incident (monotonic-free: wall clock, as ``created_at`` is)."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.created: dict[str, float] = {}
        self.by_console: dict[str, list[float]] = {}

    def record(self, message: dict[str, Any], at: float) -> None:
        if message.get("type") != "incident" or message.get("change") != "created":
            return
        incident = message["incident"]
        incident_id = incident["id"]
        self.first.setdefault(incident_id, at)
        self.created.setdefault(incident_id, datetime.fromisoformat(incident["created_at"]).timestamp())
        self.by_console.setdefault(incident_id, []).append(at)


async def console(server: LiveServer, arrivals: Arrivals, ready: asyncio.Event, stop: asyncio.Event) -> None:
    """One console: connect, then record incident pushes until told to stop."""
    import websockets

    async with websockets.connect(f"{server.ws_url}?since=now", additional_headers=server.ws_headers) as ws:
        await ws.recv()  # the cursor message: connected and authenticated
        ready.set()
        while not stop.is_set():
            try:
                text = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            arrivals.record(json.loads(text), time.time())


async def measure(server: LiveServer, args: argparse.Namespace) -> Arrivals:
    """Connect the consoles and wait for ``args.alarms`` incidents to reach every one of them."""
    arrivals = Arrivals()
    stop = asyncio.Event()
    readies = [asyncio.Event() for _ in range(args.consoles)]
    tasks = [asyncio.create_task(console(server, arrivals, ready, stop)) for ready in readies]
    await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readies)), 120)
    started = len(arrivals.first)
    deadline = time.monotonic() + args.timeout_s
    while time.monotonic() < deadline:
        done = [
            i for i in list(arrivals.first)[started:] if len(arrivals.by_console.get(i, ())) >= args.consoles
        ]
        if len(done) >= args.alarms:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return arrivals


def summarise(arrivals: Arrivals, args: argparse.Namespace) -> dict[str, Any]:
    """Latency figures over the first ``args.alarms`` incidents every console received."""
    complete = [i for i in arrivals.first if len(arrivals.by_console[i]) >= args.consoles][: args.alarms]
    frame_to_console = [(arrivals.first[i] - arrivals.created[i]) * 1000 for i in complete]
    fanout = [(at - arrivals.first[i]) * 1000 for i in complete for at in arrivals.by_console[i]]
    return {
        "alarms": len(complete),
        "frame_to_console_ms_p50": round(percentile(frame_to_console, 0.50), 1),
        "frame_to_console_ms_p95": round(percentile(frame_to_console, 0.95), 1),
        "consoles": args.consoles,
        "fanout_ms_p95": round(percentile(fanout, 0.95), 1),
    }


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the JSON summary as the last line."""
    args = parse_args(argv)
    spec = FootageSpec(
        width=320,
        height=180,
        fps=10,
        duration_s=args.loop_s,
        keyframe_interval=10,
        motion_start=0.3,
        motion_end=0.6,
    )
    with (
        tempfile.TemporaryDirectory(prefix="wk-alarm-bench-") as folder,
        serve_simulated_cameras(args.cameras, spec) as sim,
    ):
        port = free_port()
        urls = {f"cam{index}": sim.url(f"/cam{index}") for index in range(1, args.cameras + 1)}
        server = start_server(write_config(Path(folder), urls, port), port)
        try:
            arrivals = asyncio.run(measure(server, args))
        finally:
            stop_server(server)
    summary = summarise(arrivals, args)
    print(
        f"{summary['alarms']} alarms from {args.cameras} live RTSP cameras to {args.consoles} WebSocket "
        "consoles (frame -> motion event -> incident -> console)"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
