"""Recording benchmark: Watchkeeper's recorder against one ``ffmpeg -c copy -f segment`` per camera.

What it does, in one run:

1. Starts the project's simulated RTSP cameras (``watchkeeper.simulator``) in a separate process, so their
   CPU is not counted: ONE clip (a few seconds of 1080p H.264, a keyframe every 2 s, the x264 CRF tuned to
   the requested bitrate) served on ``/cam1`` ... ``/camN``.
2. Records the N cameras for T seconds with Watchkeeper in a child process: the production ``CameraWorker``
   (PyAV demux over RTSP/TCP, codec gate, segmenter writing fMP4, SQLite index, local bus) with its analysis
   consumer detached (``--mode record``, the default), or whole, decoding for motion detection too
   (``--mode camera``). The recorder's CPU seconds are measured inside the child over the recording window
   (``time.process_time``, all threads) and for the whole process by ``getrusage(RUSAGE_CHILDREN)``.
3. Records the same N cameras for T seconds with one ``ffmpeg -rtsp_transport tcp -i URL -c copy -f segment
   -segment_time 10 -segment_format mp4 -reset_timestamps 1 out%05d.mp4`` per camera; their CPU seconds
   (user + system, from ``wait4``) are summed.
4. Prints a table and, as the LAST line, one JSON object::

       {"cameras": N, "seconds": T, "cpu_s_per_camera_min": ..., "ffmpeg_cpu_s_per_camera_min": ...,
        "ratio": ..., "dropped_segments": ..., "max_recorder_lag_s": ...}

``ratio`` is Watchkeeper's CPU per camera-minute over ffmpeg's (lower is better; <= 1.0 means cheaper).
``dropped_segments`` counts the segment-length holes in Watchkeeper's index (gaps between consecutive
segments, a late first segment or an early last one, a camera with no segment) plus index rows whose file is
missing. ``max_recorder_lag_s`` is the largest delay between a segment's end (wall clock at receipt) and the
moment its index row was committed.

Run ``python benchmarks/recording.py --help``; see ``benchmarks/README.md`` and ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
SEGMENT_S = 10
GAP_TOLERANCE_S = 1.0
CONNECT_ALLOWANCE_S = 5.0
READY_TIMEOUT_S = 120.0


# -- command line ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/recording.py",
        description="Record N simulated RTSP cameras for T seconds with Watchkeeper and with one ffmpeg "
        "per camera; compare CPU per camera-minute, dropped segments and index lag.",
    )
    parser.add_argument("--cameras", type=int, default=16, help="number of cameras N (default 16)")
    parser.add_argument("--seconds", type=float, default=60.0, help="recording time T per phase (default 60)")
    parser.add_argument("--width", type=int, default=1920, help="frame width (default 1920)")
    parser.add_argument("--height", type=int, default=1080, help="frame height (default 1080)")
    parser.add_argument("--fps", type=int, default=15, help="frames per second (default 15)")
    parser.add_argument(
        "--bitrate", type=float, default=4.0, help="target bitrate in Mbit/s (default 4; CRF is tuned to it)"
    )
    parser.add_argument("--crf", type=int, default=None, help="use this x264 CRF instead of tuning")
    parser.add_argument("--loop-seconds", type=float, default=4.0, help="length of the served clip (4)")
    parser.add_argument("--keyframe-seconds", type=float, default=2.0, help="keyframe interval (2)")
    parser.add_argument(
        "--mode",
        choices=("record", "camera"),
        default="record",
        help="record: recorder only, analysis off (default); camera: full CameraWorker with motion analysis",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="run the recorder under py-spy and write its profile here (.svg flame graph, .txt collapsed "
        "stacks, .json speedscope); the CPU figures of such a run include py-spy's sampling",
    )
    parser.add_argument("--skip-ffmpeg", action="store_true", help="measure Watchkeeper only")
    parser.add_argument("--keep", type=Path, default=None, help="keep the recordings under this folder")
    parser.add_argument(
        "--quick", action="store_true", help="tiny smoke run: 1 camera, 8 s, 320x180, 0.3 Mbit/s"
    )
    parser.add_argument(
        "--role", choices=("main", "simulator", "recorder"), default="main", help=argparse.SUPPRESS
    )
    parser.add_argument("--workdir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.cameras, args.seconds, args.width, args.height, args.bitrate = 1, 8.0, 320, 180, 0.3
    if args.cameras < 1 or args.seconds <= 0:
        parser.error("--cameras must be >= 1 and --seconds > 0")
    return args


# -- orchestration (main process) ------------------------------------------------------------------------


def ensure_ffmpeg() -> str:
    """Path of ffmpeg; installs Debian's package when missing and running as root with apt-get."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("ffmpeg is missing: installing Debian's ffmpeg (apt-get install -y ffmpeg)", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "ffmpeg"]):
            subprocess.run(step, check=False, env=env, stdout=sys.stderr, stdin=subprocess.DEVNULL)
        found = shutil.which("ffmpeg")
        if found:
            return found
    raise SystemExit(
        "error: ffmpeg not found. Install Debian's ffmpeg (`apt-get install ffmpeg`), or run this benchmark "
        "as root so that it installs it, or pass --skip-ffmpeg to measure Watchkeeper alone."
    )


def _cpu_ticks(pid: int) -> int:
    """utime + stime of a live process, in clock ticks (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class LoadMeter:
    """The simulator's CPU and the machine's busy share over one phase."""

    def __init__(self, simulator_pid: int) -> None:
        self._pid = simulator_pid
        self._sim0 = _cpu_ticks(simulator_pid)
        self._machine0 = _machine_ticks()
        self._t0 = time.monotonic()

    def read(self) -> dict[str, float]:
        hz = os.sysconf("SC_CLK_TCK")
        wall = time.monotonic() - self._t0
        busy1, total1 = _machine_ticks()
        busy = (busy1 - self._machine0[0]) / max(1, total1 - self._machine0[1])
        sim = (_cpu_ticks(self._pid) - self._sim0) / hz
        return {"simulator_core_share": sim / wall if wall else 0.0, "machine_busy": busy}


def _children_cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def start_simulator(args: argparse.Namespace) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    cmd = [sys.executable, str(HERE), "--role", "simulator", "--cameras", str(args.cameras)]
    cmd += ["--width", str(args.width), "--height", str(args.height), "--fps", str(args.fps)]
    cmd += ["--bitrate", str(args.bitrate), "--loop-seconds", str(args.loop_seconds)]
    cmd += ["--keyframe-seconds", str(args.keyframe_seconds)]
    if args.crf is not None:
        cmd += ["--crf", str(args.crf)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(READY_TIMEOUT_S)
        raise SystemExit(f"error: the simulated cameras did not start (exit code {proc.returncode})")
    return proc, json.loads(line)


def stop_process(
    proc: subprocess.Popen[Any], sig: int | None = signal.SIGTERM, timeout: float = 30.0
) -> None:
    if sig is not None and proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _under_py_spy(profile: Path, cmd: list[str]) -> list[str]:
    py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if py_spy is None:
        raise SystemExit("error: --profile needs py-spy (pip install py-spy)")
    formats = {".svg": "flamegraph", ".txt": "raw", ".json": "speedscope"}
    fmt = formats.get(profile.suffix, "flamegraph")
    return [py_spy, "record", "--native", "--rate", "50", "-f", fmt, "-o", str(profile), "--", *cmd]


def record_with_watchkeeper(args: argparse.Namespace, urls: list[str], workdir: Path) -> dict[str, Any]:
    workdir.mkdir(parents=True)
    (workdir / "urls.json").write_text(json.dumps(urls))
    cmd = [sys.executable, str(HERE), "--role", "recorder", "--workdir", str(workdir)]
    cmd += ["--seconds", str(args.seconds), "--mode", args.mode]
    if args.profile is not None:
        cmd = _under_py_spy(args.profile, cmd)
    before = _children_cpu_s()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    try:
        code = proc.wait(args.seconds + READY_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        stop_process(proc, signal.SIGKILL)
        raise SystemExit("error: the Watchkeeper recorder did not finish in time") from None
    if code != 0:
        raise SystemExit(f"error: the Watchkeeper recorder failed (exit code {code})")
    result: dict[str, Any] = json.loads((workdir / "recorder.json").read_text())
    result["process_cpu_s"] = _children_cpu_s() - before
    return result


def record_with_ffmpeg(ffmpeg: str, urls: list[str], seconds: float, workdir: Path) -> dict[str, Any]:
    procs: list[subprocess.Popen[bytes]] = []
    before = _children_cpu_s()
    started = time.time()
    for i, url in enumerate(urls, start=1):
        out = workdir / f"cam{i}"
        out.mkdir(parents=True)
        cmd = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url]
        cmd += ["-c", "copy", "-f", "segment", "-segment_time", str(SEGMENT_S), "-segment_format", "mp4"]
        cmd += ["-reset_timestamps", "1", str(out / "out%05d.mp4")]
        with (out / "ffmpeg.log").open("wb") as log_file:
            procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file))
    time.sleep(max(0.0, started + seconds - time.time()))
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # ffmpeg finishes the open segment and exits
    for proc in procs:
        stop_process(proc, None)  # a second SIGINT would make ffmpeg exit without finishing the file
    wall = time.time() - started
    files = sorted(workdir.glob("cam*/out*.mp4"))
    failed = [p.args[-1] for p in procs if not list(Path(str(p.args[-1])).parent.glob("out*.mp4"))]
    return {
        "cpu_s": _children_cpu_s() - before,
        "wall_s": wall,
        "segments": len(files),
        "bytes": sum(f.stat().st_size for f in files),
        "cameras_without_output": len(failed),
    }


# -- analysis --------------------------------------------------------------------------------------------


def _holes(segments: list[dict[str, Any]], started_at: float, stopped_at: float, keyframe_s: float) -> int:
    """Segment-length holes in one camera's index between the recording start and stop."""
    holes = 0
    head = segments[0]["start"] - started_at - CONNECT_ALLOWANCE_S - keyframe_s
    gaps = [("late start", head)]
    gaps += [("gap", b["start"] - a["end"]) for a, b in itertools.pairwise(segments)]
    gaps.append(("early end", stopped_at - segments[-1]["end"] - keyframe_s))
    for kind, gap in gaps:
        if gap > GAP_TOLERANCE_S:
            holes += math.ceil(gap / SEGMENT_S)
            print(f"{segments[0]['camera']}: {kind} of {gap:.2f} s beyond the allowance", file=sys.stderr)
    return holes


def analyse_recorder(result: dict[str, Any], cameras: int, keyframe_s: float) -> dict[str, Any]:
    media_root = Path(result["workdir"]) / "media"
    by_camera: dict[str, list[dict[str, Any]]] = {f"cam{i}": [] for i in range(1, cameras + 1)}
    for segment in result["segments"]:
        by_camera.setdefault(segment["camera"], []).append(segment)
    window = result["stopped_at"] - result["started_at"]
    holes = overlaps = missing_files = silent_cameras = 0
    for segments in by_camera.values():
        segments.sort(key=lambda s: s["start"])
        if not segments:
            silent_cameras += 1
            holes += max(1, math.floor(window / SEGMENT_S))
            continue
        holes += _holes(segments, result["started_at"], result["stopped_at"], keyframe_s)
        overlaps += sum(b["start"] < a["end"] - 1e-3 for a, b in itertools.pairwise(segments))
        missing_files += sum(not (media_root / s["path"]).is_file() for s in segments)
    unindexed = max(0, len(result["segments"]) - result["indexed_rows"])
    lags = sorted(s["lag_s"] for s in result["segments"]) or [0.0]
    partials = len(list(media_root.rglob(".*.part"))) if media_root.is_dir() else 0
    reconnects = sum(s["state"] == "connecting" for s in result["states"]) - cameras
    return {
        "segments": len(result["segments"]),
        "dropped": holes + missing_files + unindexed,
        "why": f"{holes} in gaps ({silent_cameras} cameras silent), {missing_files} files missing, "
        f"{unindexed} not indexed",
        "overlaps": overlaps,
        "partials_left": partials,
        "reconnects": max(0, reconnects),
        "max_lag_s": lags[-1],
        "p50_lag_s": lags[len(lags) // 2],
        "media_share": sum(s["keyframes"] for s in result["segments"]) * keyframe_s / (window * cameras),
        "bytes": sum(s["size"] for s in result["segments"]),
    }


def per_camera_minute(cpu_s: float, cameras: int, wall_s: float) -> float:
    return cpu_s / cameras / (wall_s / 60.0)


# -- report ----------------------------------------------------------------------------------------------


def print_report(summary: dict[str, Any], rows: list[tuple[str, str, str]], footage: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Recording {summary['cameras']} cameras for {summary['seconds']:g} s: {footage}")
    table.add_column("")
    table.add_column("Watchkeeper", justify="right")
    table.add_column("ffmpeg per camera", justify="right")
    for row in rows:
        table.add_row(*row)
    Console(width=120).print(table)


def _rows(
    wk: dict[str, Any], an: dict[str, Any], ff: dict[str, Any] | None, n: int
) -> list[tuple[str, str, str]]:
    def ff_value(fmt: str, key: str, scale: float = 1.0) -> str:
        return "-" if ff is None else fmt.format(ff[key] * scale)

    wk_min = per_camera_minute(wk["cpu_s"], n, wk["wall_s"])
    ff_min = per_camera_minute(ff["cpu_s"], n, ff["wall_s"]) if ff else None
    return [
        ("CPU s (recording window)", f"{wk['cpu_s']:.1f}", ff_value("{:.1f}", "cpu_s")),
        ("CPU s (whole process incl. start-up)", f"{wk['process_cpu_s']:.1f}", ff_value("{:.1f}", "cpu_s")),
        ("CPU s per camera-minute", f"{wk_min:.2f}", "-" if ff_min is None else f"{ff_min:.2f}"),
        (
            "% of one core per camera",
            f"{wk_min / 60 * 100:.1f}",
            "-" if ff_min is None else f"{ff_min / 60 * 100:.1f}",
        ),
        ("segments written", str(an["segments"]), ff_value("{:.0f}", "segments")),
        ("MB written", f"{an['bytes'] / 1e6:.0f}", ff_value("{:.0f}", "bytes", 1e-6)),
        ("dropped segments", str(an["dropped"]), "-"),
        ("  of which", an["why"], "-"),
        ("overlapping segments / .part left", f"{an['overlaps']} / {an['partials_left']}", "-"),
        ("reconnects", str(an["reconnects"]), "-"),
        ("index lag p50 / max (s)", f"{an['p50_lag_s']:.3f} / {an['max_lag_s']:.3f}", "-"),
        ("recorded media / wall time", f"{an['media_share']:.2f}", "-"),
        ("max RSS (MB)", f"{wk['max_rss_mb']:.0f}", "-"),
        (
            "simulator: share of one core",
            f"{wk['load']['simulator_core_share']:.2f}",
            ff_value("{:.2f}", "simulator_core_share"),
        ),
        ("machine busy (all cores)", f"{wk['load']['machine_busy']:.0%}", ff_value("{:.0%}", "machine_busy")),
    ]


def run_main(args: argparse.Namespace) -> dict[str, Any]:
    ffmpeg = None if args.skip_ffmpeg else ensure_ffmpeg()
    root = Path(tempfile.mkdtemp(prefix="wk-bench-")) if args.keep is None else args.keep
    root.mkdir(parents=True, exist_ok=True)
    print(f"generating footage and starting {args.cameras} simulated cameras...", file=sys.stderr)
    simulator, ready = start_simulator(args)
    try:
        keyframe_s = ready["keyframe_interval"] / args.fps
        meter = LoadMeter(simulator.pid)
        wk = record_with_watchkeeper(args, ready["urls"], root / "watchkeeper")
        wk["load"], wk["workdir"] = meter.read(), str(root / "watchkeeper")
        an = analyse_recorder(wk, args.cameras, keyframe_s)  # before the files may be removed
        ff = None
        if ffmpeg is not None:
            meter = LoadMeter(simulator.pid)
            ff = record_with_ffmpeg(ffmpeg, ready["urls"], args.seconds, root / "ffmpeg")
            ff.update(meter.read())
    finally:
        if simulator.stdin is not None:
            simulator.stdin.close()
        stop_process(simulator)
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    n = args.cameras
    wk_min = per_camera_minute(wk["cpu_s"], n, wk["wall_s"])
    ff_min = per_camera_minute(ff["cpu_s"], n, ff["wall_s"]) if ff else None
    summary = {
        "cameras": n,
        "seconds": args.seconds,
        "cpu_s_per_camera_min": round(wk_min, 4),
        "ffmpeg_cpu_s_per_camera_min": None if ff_min is None else round(ff_min, 4),
        "ratio": None if not ff_min else round(wk_min / ff_min, 4),
        "dropped_segments": an["dropped"],
        "max_recorder_lag_s": round(an["max_lag_s"], 4),
    }
    footage = (
        f"{args.width}x{args.height}@{args.fps} H.264, {ready['bitrate_bps'] / 1e6:.2f} Mbit/s "
        f"(crf {ready['crf']}), keyframe every {keyframe_s:g} s, mode={args.mode}"
    )
    print_report(summary, _rows(wk, an, ff, n), footage)
    return summary


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.role != "main":
        sys.path.insert(0, str(HERE.parent))
        import recording_children

        run = (
            recording_children.run_simulator if args.role == "simulator" else recording_children.run_recorder
        )
        run(args)
    else:
        summary = run_main(args)
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
