"""Console load: first meaningful paint of the console with many cameras and open incidents, in Chromium.

What it does, in one run, for the baseline (``--base-cameras`` / ``--base-incidents``, default 10 / 10)
and then the measured size (``--cameras`` / ``--incidents``, default 100 / 1,000):

1. Writes a configuration with that many cameras on one site, spread over ~1 km around a point with a
   heading and field of view each, and runs a real ``watchkeeper serve`` (SQLite, local bus). The cameras
   are ``enabled: false`` (no RTSP workers compete with the browser for the CPU); the console lists and
   maps them all the same.
2. Opens that many incidents through the API (``POST /api/incidents``, operator reports spread over the
   cameras and the four priorities), as an operator's console would see them.
3. Measures the JSON the console loads at start (``GET /api/cameras``, the open-incident page the queue
   asks for) in bytes, and the time the server takes to answer each.
4. In Debian Chromium (Playwright, signed in with the session cookie): navigates to the console and
   records ``first_paint_ms``, from navigation start (``performance.timeOrigin``) to the first animation
   frame in which the map shows its camera markers (single markers or cluster icons covering every camera)
   and the queue shows its first incident rows, best of ``--repeat`` loads; then drags the map for
   ``--pan-seconds`` and counts animation frames: ``map_pan_fps``.

Prints a table with the baseline beside the measured size; last line JSON:
``{"cameras", "incidents", "first_paint_ms", "map_pan_fps", "baseline": {...}, ...}``.
Run ``python benchmarks/console_load.py --help``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console
from rich.progress import Progress

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import TEST_ADMIN_PASSWORD, LiveServer, create_user, free_port, stop_server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
CENTER = (52.2053, 0.1218)
PRIORITIES = ("critical", "high", "medium", "low")
QUEUE_QUERY = "state=new&state=acknowledged&state=in_progress&state=on_hold&limit=500"

READY = """
(cameras) => {
  const markers = document.querySelectorAll('.leaflet-marker-pane .cam-marker').length;
  let clustered = 0;
  for (const el of document.querySelectorAll('.leaflet-marker-pane .cam-cluster')) {
    clustered += Number(el.textContent.replace(/[^0-9]/g, '')) || 0;
  }
  const rows = document.querySelectorAll('[data-testid="incident-item"]').length;
  return markers + clustered >= cameras && rows > 0 ? performance.now() : null;
}
"""

PAN = """
async (seconds) => {
  let frames = 0;
  const end = performance.now() + seconds * 1000;
  await new Promise((resolve) => {
    const tick = (now) => { frames += 1; if (now < end) requestAnimationFrame(tick); else resolve(); };
    requestAnimationFrame(tick);
  });
  return frames / seconds;
}
"""


@dataclass(frozen=True)
class Result:
    """Figures of one size."""

    cameras: int
    incidents: int
    first_paint_ms: float
    map_pan_fps: float
    cameras_json_bytes: int
    incidents_json_bytes: int
    cameras_api_ms: float
    incidents_api_ms: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=100, help="Cameras of the measured size.")
    parser.add_argument("--incidents", type=int, default=1000, help="Open incidents of the measured size.")
    parser.add_argument("--base-cameras", type=int, default=10, help="Cameras of the baseline.")
    parser.add_argument("--base-incidents", type=int, default=10, help="Open incidents of the baseline.")
    parser.add_argument("--repeat", type=int, default=3, help="Page loads per size (the best counts).")
    parser.add_argument("--pan-seconds", type=float, default=2.0, help="Seconds the map is dragged.")
    return parser.parse_args(argv)


def write_config(folder: Path, cameras: int, port: int) -> Path:
    """A configuration with ``cameras`` disabled cameras spread around ``CENTER``."""
    ring = max(1, math.ceil(math.sqrt(cameras)))
    entries = [
        {
            "id": f"cam{index:04d}",
            "name": f"Camera {index}",
            "site": "campus",
            "enabled": False,
            "inputs": [{"url": f"rtsp://127.0.0.1:9/cam{index}", "roles": ["record", "detect"]}],
            "position": {
                "lat": CENTER[0] + (index // ring - ring / 2) * 0.0008,
                "lon": CENTER[1] + (index % ring - ring / 2) * 0.0012,
                "heading_deg": (index * 37) % 360,
                "fov_deg": 70,
            },
        }
        for index in range(cameras)
    ]
    document = {
        "sites": [{"id": "campus", "name": "Campus"}],
        "cameras": entries,
        "detection": {"objects": {"enabled": False}},
        "storage": {"database_url": "sqlite:///data/watchkeeper.db", "media_root": "data/media"},
        "server": {"host": "127.0.0.1", "port": port, "rate_limits": {"enabled": False}},
    }
    path = folder / "watchkeeper.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def seed_incidents(server: LiveServer, cameras: int, incidents: int, progress: Progress) -> None:
    """Open ``incidents`` operator reports spread over the cameras and priorities."""
    task = progress.add_task(f"opening {incidents} incidents", total=incidents)
    with server.client() as client:
        type_code = client.get("/api/incident-types").json()[0]["code"]
        for index in range(incidents):
            response = client.post(
                "/api/incidents",
                json={
                    "type_code": type_code,
                    "camera_id": f"cam{index % cameras:04d}",
                    "note": f"Benchmark report {index}",
                    "title": f"Report {index} near camera {index % cameras}",
                    "priority": PRIORITIES[index % len(PRIORITIES)],
                },
            )
            response.raise_for_status()
            progress.advance(task)
        opened = client.get(f"/api/incidents?{QUEUE_QUERY}").json()
    if len(opened["items"]) < min(incidents, 500):
        raise SystemExit(
            f"only {len(opened['items'])} open incidents after opening {incidents} (correlated?)"
        )


def api_sizes(server: LiveServer) -> tuple[int, int, float, float]:
    """Bytes and best-of-3 milliseconds of the two lists the console loads at start."""
    with server.client() as client:
        figures = []
        for url in ("/api/cameras", f"/api/incidents?{QUEUE_QUERY}"):
            best = math.inf
            size = 0
            for _ in range(3):
                started = time.perf_counter()
                response = client.get(url)
                best = min(best, (time.perf_counter() - started) * 1000)
                response.raise_for_status()
                size = len(response.content)
            figures.append((size, best))
    return figures[0][0], figures[1][0], figures[0][1], figures[1][1]


def measure_browser(server: LiveServer, cameras: int, repeat: int, pan_seconds: float) -> tuple[float, float]:
    """Best first meaningful paint over ``repeat`` loads, then the frame rate while dragging the map."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        host = server.base_url.split("//", 1)[1].split(":")[0]
        context.add_cookies(
            [{"name": "wk_session", "value": server.session_cookie, "domain": host, "path": "/"}]
        )
        page = context.new_page()
        paints = []
        for _ in range(repeat):
            page.goto(server.base_url + "/")
            handle = page.wait_for_function(READY, arg=cameras, polling="raf", timeout=60_000)
            paints.append(float(handle.json_value()))
        box = page.locator(".leaflet-container").bounding_box()
        if box is None:
            raise SystemExit("the map is not on the page")
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        fps_job = page.evaluate_handle(PAN, pan_seconds)
        steps = int(pan_seconds * 30)
        for step in range(steps):
            dx = 150 * math.sin(step / steps * 2 * math.pi)
            page.mouse.move(x + dx, y + dx / 2)
        page.mouse.up()
        fps = float(fps_job.json_value())
        browser.close()
    return min(paints), fps


def start_server(config_path: Path, port: int, timeout_s: float = 180) -> LiveServer:
    """``watchkeeper serve`` as a process, signed in as admin (a loaded machine may take long to start)."""
    create_user(config_path, "admin", TEST_ADMIN_PASSWORD, "admin")
    log_path = config_path.with_suffix(".log")
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "watchkeeper", "serve", "--config", str(config_path)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(
        f"http://127.0.0.1:{port}", config_path, process, log_path, admin_password=TEST_ADMIN_PASSWORD
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            response = httpx.post(
                f"{server.base_url}/api/auth/login",
                json={"username": "admin", "password": TEST_ADMIN_PASSWORD},
                timeout=5,
            )
        except httpx.HTTPError:
            time.sleep(0.3)
            continue
        response.raise_for_status()
        return replace(
            server, session_cookie=response.cookies["wk_session"], csrf_token=response.json()["csrf_token"]
        )
    stop_server(server)
    raise SystemExit(f"the server did not start within {timeout_s:.0f} s:\n{server.log_text()}")


def run_size(cameras: int, incidents: int, args: argparse.Namespace, progress: Progress) -> Result:
    with tempfile.TemporaryDirectory(prefix="wk-console-load-") as folder:
        port = free_port()
        server = start_server(write_config(Path(folder), cameras, port), port)
        try:
            seed_incidents(server, cameras, incidents, progress)
            sizes = api_sizes(server)
            paint, fps = measure_browser(server, cameras, args.repeat, args.pan_seconds)
        finally:
            stop_server(server)
    return Result(
        cameras, incidents, round(paint, 1), round(fps, 1), *sizes[:2], *(round(v, 1) for v in sizes[2:])
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        baseline = run_size(args.base_cameras, args.base_incidents, args, progress)
        measured = run_size(args.cameras, args.incidents, args, progress)
    load = os.getloadavg()[0]
    out = Console()
    out.print(f"load average (1 min) at the end: {load:.2f}; cpus: {os.cpu_count()}")
    out.print(f"{'':28}{'baseline':>14}{'measured':>14}")
    for key in asdict(measured):
        out.print(f"{key:28}{asdict(baseline)[key]:>14}{asdict(measured)[key]:>14}")
    figures: dict[str, Any] = {
        **asdict(measured),
        "baseline": asdict(baseline),
        "load_average_1m": round(load, 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
