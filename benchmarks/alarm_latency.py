"""Alarm latency: from the frame that triggers a zone rule on a live RTSP camera to the incident on a console.

What it does, in one run:

1. Serves N simulated RTSP cameras (in a child process) showing real people: the plaza of ``vtest.avi``,
   an 8 s loop of 5 s of the empty plaza and 3 s of people crossing it (``plaza_footage.py``), 640x360 15 fps,
   each camera's loop starting at another point so the alarms are spread in time.
2. Runs a real ``watchkeeper serve`` (SQLite, local bus, NanoDet, production defaults otherwise) over them
   with, per camera, an ``enter`` rule for people on the plaza zone and the analytics mapping
   ``{type: INTRUSION_AFTER_HOURS, rule: person-enters-plaza}``. The correlation window is the minimum
   (1 s): the people who appear together merge into one incident, and the 5 s of empty plaza between two
   appearances make the next appearance a new incident. So each loop of each camera gives one new incident.
   Path measured: frame -> detector -> tracker -> zone rule -> event -> bus -> incident service -> database
   -> bus -> incident journal -> WebSocket.
3. Phase 1: one console (a Python ``websockets`` client standing in for the browser, same protocol and
   session cookie) until ``--alarms`` new incidents reached it. Phase 2: ``--consoles`` consoles, run in
   separate processes (``--per-process`` each, so the clients' own JSON decoding does not queue behind one
   GIL), until ``--alarms`` new incidents reached every one of them.
4. ``frame_to_console_ms``: arrival at a console minus the incident's ``created_at``, which the pipeline sets
   to the wall-clock arrival of the triggering frame's packet (same host, same clock; the frame's way from
   the simulator to that point is measured by ``pipeline.py``: ~1 ms). In phase 2 the first console's
   arrival counts, and ``frame_to_every_console_ms_p95`` counts every console's. ``fanout_ms``: per incident
   and console, arrival at that console minus arrival at the first console.

The split (from the server log's ``incident ... opened ... alarm_age_ms=... open_ms=...`` lines):
``frame_to_event_ms`` (frame -> analytics -> the event reaching the incident service),
``event_to_incident_ms`` (alarm -> incident written and announced) and ``incident_to_console_ms``
(announced -> journal -> WebSocket -> first console). ``frame_to_event_ms`` is split further by the log's
``camera ... event ... started ... ms after its frame: plan_ms=... submit_ms=... queued_ms=... detector_ms=...
rules_ms=... emit_ms=...`` lines (one per object event started from a detector result; the ``single_stages``
/ ``many_stages`` lines): decoding and motion, colour conversion, the shared detector's queue, the detector
run, tracker and rules, and storing + publishing the event (after those published before it from the same
result).

Last line: ``{"alarms", "frame_to_console_ms_p50", "frame_to_console_ms_p95", "consoles", "fanout_ms_p95",
...}``: frame to console from phase 1 (one console), fan-out from phase 2. ``--profile FILE`` records the
server with py-spy during phase 2 (raw collapsed stacks).
Run ``python benchmarks/alarm_latency.py --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from plaza_footage import CACHE, PLAZA_ZONE, activity_footage  # noqa: E402

from tests.conftest import LiveServer, free_port, start_server, stop_server  # noqa: E402
from watchkeeper.simulator import FootageSpec, RtspServer, clip_from_file  # noqa: E402

FPS = 15
RULE = "person-enters-plaza"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alarms", type=int, default=200, help="incidents to measure per phase")
    parser.add_argument("--cameras", type=int, default=6, help="simulated cameras")
    parser.add_argument("--consoles", type=int, default=200, help="concurrent WebSocket consoles (phase 2)")
    parser.add_argument("--per-process", type=int, default=50, help="consoles per client process")
    parser.add_argument("--loop-s", type=float, default=8.0, help="length of one footage loop")
    parser.add_argument("--active-s", type=float, default=3.0, help="seconds of people in each loop")
    parser.add_argument("--skip-single", action="store_true", help="skip phase 1 (one console)")
    parser.add_argument("--profile", type=Path, help="py-spy the server during phase 2 into this file")
    parser.add_argument("--timeout-s", type=float, default=900.0, help="give up a phase after this long")
    parser.add_argument(
        "--source",
        choices=["camera", "report"],
        default="camera",
        help="camera: zone rule on live footage (the whole path); report: operator reports over HTTP, "
        "cameras record only (the incident -> console path and the fan-out, without analytics)",
    )
    parser.add_argument("--report-interval-s", type=float, default=0.5, help="seconds between reports")
    parser.add_argument(
        "--rendition-nice",
        type=int,
        help="privacy.rendition.nice for the server (default: the config default)",
    )
    parser.add_argument(
        "--queue-depth", type=int, help="detection.objects.queue_depth (default: the default)"
    )
    return parser.parse_args(argv)


async def post_reports(server: LiveServer, interval_s: float, stop: Any) -> None:
    """``--source report``: an operator reports an incident on ``cam1`` every ``interval_s`` seconds."""
    with server.client() as client:
        while not stop():
            body = {"type_code": "BREAK_IN", "camera_id": "cam1", "note": "benchmark report"}
            response = await asyncio.to_thread(client.post, "/api/incidents", json=body)
            response.raise_for_status()
            await asyncio.sleep(interval_s)


def record_only(document: dict[str, Any]) -> dict[str, Any]:
    """``--source report``: no object detection and 1 fps motion only, so the figures leave analytics out."""
    for camera in document["cameras"]:
        camera.pop("rules", None)
    document["detection"] = {"fps": 1, "objects": {"enabled": False}, "tamper": {"enabled": False}}
    document["incidents"].pop("analytics", None)
    return document


def serve(args: argparse.Namespace, queue: Any, stop: Any) -> None:
    """Child process: the plaza cameras, each loop starting at another point."""
    footage = activity_footage(loop_s=args.loop_s, active_s=args.active_s, fps=FPS)
    spec = FootageSpec(width=640, height=360, fps=FPS, duration_s=args.loop_s, keyframe_interval=30, crf=26)
    clips = {
        f"/cam{i}": clip_from_file(
            footage.path, spec, start_s=i * args.loop_s / args.cameras, cache_dir=CACHE
        )
        for i in range(1, args.cameras + 1)
    }
    with RtspServer(clips, host="127.0.0.1", port=0) as server:
        queue.put(server.port)
        stop.wait()


def write_config(folder: Path, urls: dict[str, str], port: int) -> Path:
    """Cameras with the plaza zone rule, objects on, rule -> incident, 1 s correlation window."""
    document = {
        "sites": [{"id": "bench", "name": "Benchmark site"}],
        "cameras": [
            {
                "id": camera_id,
                "name": camera_id,
                "site": "bench",
                "inputs": [{"url": url, "roles": ["record", "detect"]}],
                "zones": [{"name": "plaza", "polygon": PLAZA_ZONE}],
                "rules": [{"name": RULE, "type": "enter", "zone": "plaza", "classes": ["person"]}],
            }
            for camera_id, url in urls.items()
        ],
        "recording": {"segment_seconds": 4, "stall_timeout_s": 5, "reconnect_initial_s": 0.5},
        "detection": {
            "fps": 5,
            "objects": {"enabled": True},
            "detector": {"path": str(ROOT / "var/models/nanodet.onnx")},
        },
        "storage": {"database_url": "sqlite:///data/watchkeeper.db", "media_root": "data/media"},
        "server": {"host": "127.0.0.1", "port": port},
        "incidents": {
            "analytics": [{"type": "INTRUSION_AFTER_HOURS", "rule": RULE}],
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


def record(sink: Any, text: str, at: float) -> None:
    """Note when a console got a new-incident push (wall clock, as ``created_at`` is), and zone events."""
    arrivals, created, events = sink
    message = json.loads(text)
    if message.get("type") == "event" and message.get("state") == "started":
        event = message["event"]
        if event.get("kind") == "zone":
            events.append((datetime.fromisoformat(event["start"]).timestamp(), at))
        return
    if message.get("type") != "incident" or message.get("change") != "created":
        return
    incident = message["incident"]
    created.setdefault(incident["id"], datetime.fromisoformat(incident["created_at"]).timestamp())
    arrivals.setdefault(incident["id"], []).append(at)


async def console(url: str, headers: dict[str, str], sink: Any, ready: asyncio.Event, stop: Any) -> None:
    """One console: connect, then record incident pushes until ``stop()`` is true."""
    import websockets

    async with websockets.connect(
        f"{url}?since=now", additional_headers=headers, max_queue=None, open_timeout=120
    ) as ws:
        await ws.recv()  # the cursor message: connected and authenticated
        ready.set()
        while not stop():
            try:
                text = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            except (websockets.ConnectionClosed, OSError):
                return  # the server went away (the end of the run)
            record(sink, text, time.time())


async def _client_group(url: str, headers: dict[str, str], count: int, queue: Any, stop: Any) -> None:
    sinks = [({}, {}, []) for _ in range(count)]
    readies = [asyncio.Event() for _ in range(count)]
    tasks = [
        asyncio.create_task(console(url, headers, sink, ready, stop.is_set))
        for sink, ready in zip(sinks, readies, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readies)), 120)
    queue.put(("ready", count))
    while not stop.is_set():
        await asyncio.sleep(0.2)
    await asyncio.gather(*tasks, return_exceptions=True)
    queue.put(("done", [[arrivals, created] for arrivals, created, _ in sinks]))


def client_process(url: str, headers: dict[str, str], count: int, queue: Any, stop: Any) -> None:
    """Child process: ``count`` consoles on one event loop."""
    asyncio.run(_client_group(url, headers, count, queue, stop))


async def phase(server: LiveServer, args: argparse.Namespace, consoles: int) -> list[Any]:
    """Console 0 in this process, the others in child processes; stop once ``args.alarms`` reached all."""
    context = multiprocessing.get_context("spawn")
    queue, stop = context.Queue(), context.Event()
    others = consoles - 1
    sizes = [min(args.per_process, others - start) for start in range(0, others, args.per_process)]
    children = [
        context.Process(target=client_process, args=(server.ws_url, server.ws_headers, size, queue, stop))
        for size in sizes
    ]
    for child in children:
        child.start()
    mine: Any = ({}, {}, [])
    ready = asyncio.Event()
    task = asyncio.create_task(console(server.ws_url, server.ws_headers, mine, ready, stop.is_set))
    await asyncio.wait_for(ready.wait(), 60)
    for _ in children:
        await asyncio.to_thread(queue.get, True, 180)
    begin = time.time()
    reports = (
        asyncio.create_task(post_reports(server, args.report_interval_s, stop.is_set))
        if args.source == "report"
        else None
    )
    deadline = time.monotonic() + args.timeout_s
    while time.monotonic() < deadline:
        fresh = [i for i, at in mine[1].items() if at >= begin]
        if len(fresh) >= args.alarms + 2:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(3.0)  # the last incidents reach the other consoles
    stop.set()
    await task
    if reports is not None:
        await reports
    sinks = [[mine[0], mine[1]]]
    zone_events = [(start, at) for start, at in mine[2] if start >= begin]
    for _ in children:
        _kind, data = await asyncio.to_thread(queue.get, True, 120)
        sinks += data
    for child in children:
        child.join(10)
    return [begin, sinks, zone_events]


_LINE = r"^(\S+Z) INFO\s+(?:\[[^\]\n]*\]\s+)?\S+\s+"  # time, level, [node role] (once serving), logger
OPENED = re.compile(
    _LINE + r"incident (\S+) opened: .* alarm_age_ms=([\d.-]+) open_ms=([\d.-]+)", re.MULTILINE
)
STAGES = ("plan_ms", "submit_ms", "queued_ms", "detector_ms", "rules_ms", "emit_ms")
STARTED = re.compile(
    _LINE
    + r"camera \S+: event \S+ \(\S+\) started ([\d.-]+) ms after its frame: "
    + " ".join(rf"{name}=([\d.-]+)" for name in STAGES),
    re.MULTILINE,
)


def opened_in_log(text: str) -> dict[str, tuple[float, float, float]]:
    """Per incident id from the server log: (opened at, ms frame -> service, ms service -> opened)."""
    found: dict[str, tuple[float, float, float]] = {}
    for stamp, incident_id, age_ms, open_ms in OPENED.findall(text):
        at = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        found[incident_id] = (at, float(age_ms), float(open_ms))
    return found


def stages_in_log(text: str, since: float) -> dict[str, float]:
    """p50/p95 of the analytics stages of the object events started after ``since`` (the server log's
    ``event ... started ... ms after its frame: plan_ms=...`` lines): where frame -> event goes."""
    rows = [
        [float(value) for value in found[1:]]
        for found in STARTED.findall(text)
        if datetime.fromisoformat(found[0].replace("Z", "+00:00")).timestamp() >= since
    ]
    figures: dict[str, float] = {"started_events": len(rows)}
    for index, name in enumerate(("frame_to_published_ms", *STAGES)):
        values = [row[index] for row in rows]
        figures[f"{name}_p50"] = round(percentile(values, 0.50), 1)
        figures[f"{name}_p95"] = round(percentile(values, 0.95), 1)
    return figures


RENDITION = re.compile(
    r"camera (\S+): protected rendition thread: (\d+) frames \((\d+) failed, (\d+) dropped, (\d+) done "
    r"more than \d+ s after their arrival\), lag max (\d+) ms"
)


def rendition_in_log(text: str) -> dict[str, float]:
    """Whether the protected rendition kept up, from the lines each camera's rendition thread logs when
    the server stops: frames rendered, failed, dropped (queue full: cores short), done more than 1 s after
    their arrival, and the largest lag. Empty without a rendition thread (rendition on the input thread)."""
    rows = [[float(value) for value in found[1:]] for found in RENDITION.findall(text)]
    if not rows:
        return {}
    return {
        "cameras": len(rows),
        "frames": sum(row[0] for row in rows),
        "failed": sum(row[1] for row in rows),
        "dropped": sum(row[2] for row in rows),
        "late_over_1s": sum(row[3] for row in rows),
        "lag_max_ms": max(row[4] for row in rows),
    }


def split(opened: dict[str, tuple[float, float, float]], first: dict[str, float]) -> dict[str, float]:
    """frame -> event, event -> incident, incident -> first console (p50/p95) over the measured incidents."""
    ids = [i for i in first if i in opened]
    parts = {
        "frame_to_event_ms": [opened[i][1] for i in ids],
        "event_to_incident_ms": [opened[i][2] for i in ids],
        "incident_to_console_ms": [(first[i] - opened[i][0]) * 1000 for i in ids],
    }
    figures: dict[str, float] = {}
    for name, values in parts.items():
        figures[f"{name}_p50"] = round(percentile(values, 0.50), 1)
        figures[f"{name}_p95"] = round(percentile(values, 0.95), 1)
    return figures


def summarise(
    begin: float,
    sinks: list[Any],
    zone_events: list[Any],
    args: argparse.Namespace,
    opened: dict[str, tuple[float, float, float]] | None = None,
) -> dict[str, Any]:
    """Figures over the first ``args.alarms`` incidents created after every console was connected."""
    created: dict[str, float] = {}
    for _, made in sinks:
        created |= made
    ids = sorted((i for i, at in created.items() if at >= begin), key=created.__getitem__)
    complete = [i for i in ids if all(i in arrivals for arrivals, _ in sinks)][: args.alarms]
    first = {i: min(min(arrivals[i]) for arrivals, _ in sinks) for i in complete}
    every = [(min(arrivals[i]) - created[i]) * 1000 for i in complete for arrivals, _ in sinks]
    to_first = [(first[i] - created[i]) * 1000 for i in complete]
    fanout = [(min(arrivals[i]) - first[i]) * 1000 for i in complete for arrivals, _ in sinks]
    to_event = [(at - start) * 1000 for start, at in zone_events]
    measured_s = (created[complete[-1]] - begin) if complete else float("nan")
    appearances = args.cameras * measured_s / args.loop_s  # each camera shows people once per loop
    return {
        "alarms": len(complete),
        "measured_s": round(measured_s, 1),
        "alarms_per_appearance": round(len(complete) / appearances, 2) if appearances > 0 else float("nan"),
        "frame_to_console_ms_p50": round(percentile(to_first, 0.50), 1),
        "frame_to_console_ms_p95": round(percentile(to_first, 0.95), 1),
        "frame_to_every_console_ms_p95": round(percentile(every, 0.95), 1),
        "frame_to_console_ms_max": round(max(to_first, default=float("nan")), 1),
        "consoles": len(sinks),
        "fanout_ms_p50": round(percentile(fanout, 0.50), 1),
        "fanout_ms_p95": round(percentile(fanout, 0.95), 1),
        "frame_to_zone_event_on_console_ms_p50": round(percentile(to_event, 0.50), 1),
        "frame_to_zone_event_on_console_ms_p95": round(percentile(to_event, 0.95), 1),
        "incomplete": len(ids) - len(complete) if len(complete) < args.alarms else 0,
        **split(opened or {}, first),
    }


def profiled(server: LiveServer, args: argparse.Namespace, consoles: int) -> list[Any]:
    """Phase 2, optionally under py-spy (the server process, native frames off, raw collapsed stacks)."""
    spy = None
    if args.profile is not None:
        py_spy = Path(sys.executable).parent / "py-spy"
        command = [str(py_spy), "record", "-p", str(server.process.pid), "-o", str(args.profile)]
        spy = subprocess.Popen([*command, "--format", "raw", "--rate", "50", "--nonblocking"])
    try:
        return asyncio.run(phase(server, args, consoles))
    finally:
        if spy is not None:
            spy.send_signal(2)
            spy.wait(30)


def start_with_retries(config_path: Path, port: int, attempts: int = 3) -> LiveServer:
    """``start_server``, tried again when the server did not answer within its 30 s (a loaded machine)."""
    for attempt in range(1, attempts + 1):
        try:
            return start_server(config_path, port)
        except AssertionError as err:
            if attempt == attempts or "did not answer" not in str(err):
                raise
            print(f"server start {attempt} timed out (load {loadavg()}); trying again", flush=True)
    raise AssertionError("unreachable")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv: list[str] | None = None) -> None:
    """Run both phases and print the JSON summary as the last line."""
    args = parse_args(argv)
    activity_footage(loop_s=args.loop_s, active_s=args.active_s, fps=FPS)
    context = multiprocessing.get_context("spawn")
    ports, stop = context.Queue(), context.Event()
    simulator = context.Process(target=serve, args=(args, ports, stop), daemon=True)
    simulator.start()
    results: dict[str, dict[str, Any]] = {}
    loads = [loadavg()]
    try:
        rtsp = RtspServerUrls(ports.get(timeout=600))
        with tempfile.TemporaryDirectory(prefix="wk-alarm-bench-") as folder:
            port = free_port()
            urls = {f"cam{i}": rtsp.url(f"/cam{i}") for i in range(1, args.cameras + 1)}
            config_path = write_config(Path(folder), urls, port)
            document = yaml.safe_load(config_path.read_text())
            if args.rendition_nice is not None:
                document["privacy"] = {"rendition": {"nice": args.rendition_nice}}
            if args.queue_depth is not None:
                document["detection"]["objects"]["queue_depth"] = args.queue_depth
            config_path.write_text(yaml.safe_dump(document, sort_keys=False))
            if args.source == "report":
                document = yaml.safe_load(config_path.read_text())
                config_path.write_text(yaml.safe_dump(record_only(document), sort_keys=False))
            server = start_with_retries(config_path, port)
            try:
                time.sleep(10)  # cameras connect, detector warms up
                loads.append(loadavg())
                if not args.skip_single:
                    measured = asyncio.run(phase(server, args, 1))
                    text = server.log_text()
                    results["single"] = summarise(*measured, args, opened_in_log(text))
                    results["single_stages"] = stages_in_log(text, measured[0])
                    print(f"single  {json.dumps(results['single'])}", flush=True)
                    loads.append(loadavg())
                measured = profiled(server, args, args.consoles)
                text = server.log_text()
                results["many"] = summarise(*measured, args, opened_in_log(text))
                results["many_stages"] = stages_in_log(text, measured[0])
                loads.append(loadavg())
            finally:
                stop_server(server)
                results["rendition"] = rendition_in_log(server.log_text())
    finally:
        stop.set()
        simulator.join(10)
    for name, result in results.items():
        print(f"{name:7s} {json.dumps(result)}")  # rendition: {} when the rendition runs on the input thread
    print(f"load average (1, 5, 15 min) at start, after warm-up, after each phase: {loads}")
    single, many = results.get("single", results["many"]), results["many"]
    print(
        json.dumps(
            {
                "alarms": single["alarms"],
                "frame_to_console_ms_p50": single["frame_to_console_ms_p50"],
                "frame_to_console_ms_p95": single["frame_to_console_ms_p95"],
                "consoles": many["consoles"],
                "fanout_ms_p95": many["fanout_ms_p95"],
                "with_consoles_frame_to_console_ms_p95": many["frame_to_console_ms_p95"],
                "frame_to_event_ms_p95": single["frame_to_event_ms_p95"],
                "event_to_incident_ms_p95": single["event_to_incident_ms_p95"],
                "incident_to_console_ms_p95": single["incident_to_console_ms_p95"],
            }
        )
    )


class RtspServerUrls:
    """URLs of the simulator child's cameras."""

    def __init__(self, port: int) -> None:
        self.port = port

    def url(self, path: str) -> str:
        return f"rtsp://127.0.0.1:{self.port}{path}"


if __name__ == "__main__":
    main()
