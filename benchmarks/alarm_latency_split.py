"""Alarm latency of the single-box layouts: one ``--role all`` process vs ``--role worker`` + ``--role api``.

Same cameras, footage, rule, consoles and measurement as ``alarm_latency.py`` (read its docstring), run once
per layout on the same machine in one go:

* ``all``: one ``watchkeeper serve`` process (SQLite, local bus): the camera threads (demux, detector,
  protected rendition encode) and the API's event loop share one GIL.
* ``split``: ``watchkeeper serve --role worker`` and ``watchkeeper serve --role api`` over the same SQLite
  file and NATS JetStream (``nats://127.0.0.1:4222``; a stream, prefix and lease bucket of its own): the
  API's loop has a process to itself, at the cost of a hop through NATS.

Each layout's figures are printed on their own line (``all`` is the baseline); the last line is
``{"layouts": {"all": {...}, "split": {...}}}`` with ``frame_to_console_ms_p50/p95`` (one console) and
``with_consoles_frame_to_console_ms_p95`` and ``fanout_ms_p95`` (``--consoles`` consoles).
Run ``python benchmarks/alarm_latency_split.py --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from alarm_latency import (  # noqa: E402
    FPS,
    RtspServerUrls,
    loadavg,
    opened_in_log,
    phase,
    serve,
    summarise,
    write_config,
)
from plaza_footage import activity_footage  # noqa: E402

from tests.cluster.roles_support import start_role_server  # noqa: E402
from tests.conftest import LiveServer, free_port, stop_server  # noqa: E402

NATS_URL = "nats://127.0.0.1:4222"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (those of ``alarm_latency.py`` plus ``--layouts``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", default="all,split", help="comma-separated: all, split (in this order)")
    parser.add_argument("--alarms", type=int, default=100, help="incidents to measure per phase")
    parser.add_argument("--cameras", type=int, default=6, help="simulated cameras")
    parser.add_argument("--consoles", type=int, default=100, help="concurrent WebSocket consoles (phase 2)")
    parser.add_argument("--per-process", type=int, default=50, help="consoles per client process")
    parser.add_argument("--loop-s", type=float, default=8.0, help="length of one footage loop")
    parser.add_argument("--active-s", type=float, default=3.0, help="seconds of people in each loop")
    parser.add_argument("--skip-single", action="store_true", help="skip phase 1 (one console)")
    parser.add_argument("--timeout-s", type=float, default=900.0, help="give up a phase after this long")
    return parser.parse_args(argv)


def split_config(path: Path, tag: str) -> None:
    """Turn ``alarm_latency.py``'s configuration into the split layout's (NATS bus and leases)."""
    document = yaml.safe_load(path.read_text())
    document["storage"]["bus"] = {
        "type": "nats",
        "url": NATS_URL,
        "stream": f"WKBENCH_{tag}",
        "subject_prefix": f"wkbench{tag}",
    }
    document["cluster"] = {"leases": "nats", "bucket": f"wkbench_{tag}", "worker_id": "bench-worker"}
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@contextlib.contextmanager
def worker_process(config: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``watchkeeper serve --role worker`` on a free port, stopped with SIGTERM at the end."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "watchkeeper", "serve", "-c", str(config), "--role", "worker"]
    command += ["--port", str(free_port())]
    with config.with_suffix(".worker.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


def measure(server: LiveServer, args: argparse.Namespace) -> dict[str, Any]:
    """Phase 1 (one console) and phase 2 (``--consoles``), after a 10 s warm-up."""
    time.sleep(10)
    result: dict[str, Any] = {"load_after_warmup": loadavg()}
    if not args.skip_single:
        begin, sinks, zone_events = asyncio.run(phase(server, args, 1))
        result["single"] = summarise(begin, sinks, zone_events, args, opened_in_log(server.log_text()))
    begin, sinks, zone_events = asyncio.run(phase(server, args, args.consoles))
    result["many"] = summarise(begin, sinks, zone_events, args, opened_in_log(server.log_text()))
    result["load_after"] = loadavg()
    return result


def run_layout(layout: str, urls: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    """One layout over fresh data."""
    with tempfile.TemporaryDirectory(prefix=f"wk-alarm-{layout}-") as folder:
        port = free_port()
        config = write_config(Path(folder), urls, port)
        if layout == "all":
            server = start_role_server(config, port, "all")
            try:
                return measure(server, args)
            finally:
                stop_server(server)
        split_config(config, uuid.uuid4().hex[:8])
        with worker_process(config):
            server = start_role_server(config, port, "api")
            try:
                return measure(server, args)
            finally:
                stop_server(server)


def headline(result: dict[str, Any]) -> dict[str, Any]:
    """The figures the last line carries for one layout."""
    single, many = result.get("single", result["many"]), result["many"]
    return {
        "alarms": single["alarms"],
        "frame_to_console_ms_p50": single["frame_to_console_ms_p50"],
        "frame_to_console_ms_p95": single["frame_to_console_ms_p95"],
        "consoles": many["consoles"],
        "fanout_ms_p95": many["fanout_ms_p95"],
        "with_consoles_frame_to_console_ms_p95": many["frame_to_console_ms_p95"],
    }


def main(argv: list[str] | None = None) -> None:
    """Run every layout and print the JSON summary as the last line."""
    args = parse_args(argv)
    layouts = [name.strip() for name in args.layouts.split(",") if name.strip()]
    unknown = sorted(set(layouts) - {"all", "split"})
    if unknown:
        raise SystemExit(f"unknown layout(s) {', '.join(unknown)}: use all, split")
    activity_footage(loop_s=args.loop_s, active_s=args.active_s, fps=FPS)
    context = multiprocessing.get_context("spawn")
    ports, stop = context.Queue(), context.Event()
    simulator = context.Process(target=serve, args=(args, ports, stop), daemon=True)
    simulator.start()
    results: dict[str, dict[str, Any]] = {}
    try:
        rtsp = RtspServerUrls(ports.get(timeout=600))
        urls = {f"cam{i}": rtsp.url(f"/cam{i}") for i in range(1, args.cameras + 1)}
        for layout in layouts:
            start_load = loadavg()
            results[layout] = {"load_at_start": start_load, **run_layout(layout, urls, args)}
            print(f"{layout:6s} {json.dumps(results[layout])}", flush=True)
    finally:
        stop.set()
        simulator.join(10)
    print(json.dumps({"layouts": {name: headline(result) for name, result in results.items()}}))


if __name__ == "__main__":
    main()
