"""GPU capacity: how many 1080p30 H.264 streams one GPU machine sustains with detection and tracking.

Runs on a CUDA machine with PyTorch, PyAV, onnxruntime (CPU) and ``onnx2torch``. Steps:

1. Encode a synthetic 1080p30 H.264 test clip with libx264 (static textured background with sensor noise,
   12 moving boxes; ``--bitrate``, default 4 Mbit/s, no B-frames, GOP 60).
2. CPU, one process per core, all at once: decode the clip with one decoder thread per process, (a) decode
   only, (b) plus Watchkeeper's analysis work on every 6th frame (5 fps: scale to 640x360 RGB + grey,
   ``RunningAverageMotion``, stretch to 416x416 RGB), (c) the same on every frame (30 fps).
3. The NanoDet ONNX graph converted to PyTorch with ``onnx2torch``: outputs checked against ONNX Runtime
   CPU on the same inputs (max abs diff; fp16 accepted only when the decoded detections match), then batched
   throughput (uint8 416x416 host->device copy, BGR/normalise on the GPU, inference, with and without copying
   every raw output back to the host for the CPU decoder).
4. Single process: Watchkeeper's NanoDet decoder + per-class NMS per frame, and ``ByteTracker.update`` with
   20 moving objects.

Capacity = min(GPU frames/s / detect fps, CPU cores (one kept for the GPU feeder) / CPU core-seconds per
stream-second). Prints a table and, as the LAST line, one JSON object. Run from the repository root on the
GPU machine: ``PYTHONPATH=. python3 benchmarks/gpu_streams.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

WIDTH, HEIGHT, FPS = 1920, 1080, 30
ANALYSIS_W, ANALYSIS_H = 640, 360
SIZE = 416


def make_clip(path: Path, seconds: int, bitrate: int) -> None:
    import av

    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (HEIGHT // 12, WIDTH // 12, 3), dtype=np.uint8)
    background = (
        av.VideoFrame.from_ndarray(coarse, format="rgb24")
        .reformat(width=WIDTH, height=HEIGHT, interpolation="BILINEAR")
        .to_ndarray()
        .astype(np.int16)
    )
    noise = [rng.integers(-6, 7, (HEIGHT, WIDTH, 1), dtype=np.int16) for _ in range(8)]
    pos = rng.uniform([0, 0], [WIDTH - 200, HEIGHT - 300], size=(12, 2))
    vel = rng.uniform(-12, 12, size=(12, 2))
    size = rng.uniform([60, 120], [160, 300], size=(12, 2)).astype(int)
    colour = rng.integers(0, 256, (12, 3))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.bit_rate = bitrate
        stream.options = {"preset": "veryfast", "bf": "0", "g": "60"}
        for index in range(seconds * FPS):
            image = background + noise[index % len(noise)]
            for obj in range(12):
                x, y = np.abs(np.mod(pos[obj] + vel[obj] * index, 2 * np.array([1720, 780])) - [1720, 780])
                w, h = size[obj]
                image[int(y) : int(y) + h, int(x) : int(x) + w] = colour[obj]
            frame = av.VideoFrame.from_ndarray(np.clip(image, 0, 255).astype(np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def decode_worker(path: str, detect_every: int, seconds: float, queue: Any) -> None:
    import av

    from watchkeeper.analyzers.motion.running_average import RunningAverageMotion

    motion = RunningAverageMotion()
    frames = analysed = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            for frame in container.decode(stream):
                frames += 1
                if detect_every and frames % detect_every == 0:
                    small = frame.reformat(width=ANALYSIS_W, height=ANALYSIS_H, format="rgb24")
                    grey = frame.reformat(width=ANALYSIS_W, height=ANALYSIS_H, format="gray").to_ndarray()
                    motion.update(grey)
                    small.reformat(
                        width=SIZE, height=SIZE, format="rgb24", interpolation="BILINEAR"
                    ).to_ndarray()
                    analysed += 1
                if time.perf_counter() - start >= seconds:
                    break
    queue.put((frames, analysed, time.perf_counter() - start))


def decode_throughput(path: Path, processes: int, detect_every: int, seconds: float) -> float:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    workers = [
        ctx.Process(target=decode_worker, args=(str(path), detect_every, seconds, queue))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    return sum(frames / elapsed for frames, _, elapsed in results)


def reference_images(path: Path, count: int) -> list[np.ndarray]:
    import av

    images = []
    try:
        from skimage import data

        images = [
            np.ascontiguousarray(getattr(data, name)()[..., :3])
            for name in ("astronaut", "chelsea", "coffee")
        ]
    except ImportError:
        pass
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % 37 == 0:
                images.append(frame.to_ndarray(format="rgb24"))
            if len(images) >= count:
                break
    return images


def detections(decoder: Any, config: Any, outputs: list[np.ndarray]) -> Any:
    from watchkeeper.analyzers.detect.postprocess import finish

    return finish(decoder.decode(outputs, config.score_threshold), config.nms_iou, config.max_detections)


def same_detections(a: Any, b: Any) -> bool:
    if len(a.scores) != len(b.scores):
        return False
    return bool(np.all(a.class_ids == b.class_ids) and np.abs(a.boxes - b.boxes).max(initial=0) < 2.0)


def verify(model: Any, model_path: Path, images: list[np.ndarray]) -> tuple[dict[str, Any], Any, Any]:
    import onnx
    import onnxruntime as ort
    import torch

    from watchkeeper.analyzers.detect.formats import TensorSpec, make_decoder
    from watchkeeper.analyzers.detect.preprocess import Preprocessor
    from watchkeeper.config.detectors import DetectorConfig

    config = DetectorConfig(path=model_path, device="cpu")
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    graph_outputs = [out.name for out in onnx.load(str(model_path)).graph.output]
    specs = [
        TensorSpec(o.name, tuple(d if isinstance(d, int) else None for d in o.shape))
        for o in session.get_outputs()
    ]
    decoder = make_decoder(config, specs, model_path)
    order = [graph_outputs.index(name) for name in decoder.output_names]
    half = copy.deepcopy(model).half()
    prep = Preprocessor(config)
    diff32 = diff16 = score16 = 0.0
    det_total = 0
    fp16_ok = True
    for image in images:
        tensor, _ = prep(image)
        ref = session.run(list(decoder.output_names), {session.get_inputs()[0].name: tensor})
        with torch.no_grad():
            x = torch.from_numpy(tensor).cuda()
            out32 = [o.float().cpu().numpy() for o in model(x)]
            out16 = [o.float().cpu().numpy() for o in half(x.half())]
        out32, out16 = [out32[i] for i in order], [out16[i] for i in order]
        diff32 = max(diff32, max(float(np.abs(r - t).max()) for r, t in zip(ref, out32, strict=True)))
        diff16 = max(diff16, max(float(np.abs(r - t).max()) for r, t in zip(ref, out16, strict=True)))
        score16 = max(score16, max(float(np.abs(ref[i] - out16[i]).max()) for i in range(0, len(ref), 2)))
        ref_det = detections(decoder, config, ref)
        det_total += len(ref_det.scores)
        if not same_detections(ref_det, detections(decoder, config, out32)):
            raise SystemExit("fp32 torch detections differ from ONNX Runtime's")
        fp16_ok = fp16_ok and same_detections(ref_det, detections(decoder, config, out16))
    report = {
        "images": len(images),
        "reference_detections": det_total,
        "fp32_max_abs_diff": diff32,
        "fp16_max_abs_diff": diff16,
        "fp16_score_max_abs_diff": score16,
        "fp16_same_detections": fp16_ok,
    }
    return report, config, (decoder, order)


def gpu_throughput(model: Any, config: Any, batch: int, half: bool, copy_back: bool, seconds: float) -> float:
    import torch

    dtype = torch.float16 if half else torch.float32
    net = copy.deepcopy(model).half() if half else model
    mean = torch.tensor(config.mean, device="cuda", dtype=dtype).view(1, 3, 1, 1)
    inv_std = (1.0 / torch.tensor(config.std, device="cuda", dtype=dtype)).view(1, 3, 1, 1)
    host = torch.randint(0, 256, (batch, SIZE, SIZE, 3), dtype=torch.uint8).pin_memory()

    def step() -> None:
        x = host.cuda(non_blocking=True)[..., [2, 1, 0]].permute(0, 3, 1, 2).to(dtype)
        outputs = net((x - mean) * inv_std)
        if copy_back:
            [o.cpu() for o in outputs]

    with torch.no_grad():
        for _ in range(5):
            step()
        torch.cuda.synchronize()
        iterations, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            step()
            iterations += 1
        torch.cuda.synchronize()
        return batch * iterations / (time.perf_counter() - start)


def postprocess_ms(model: Any, config: Any, decoder_order: Any, images: list[np.ndarray]) -> float:
    import torch

    from watchkeeper.analyzers.detect.postprocess import to_detections
    from watchkeeper.analyzers.detect.preprocess import Preprocessor

    decoder, order = decoder_order
    prep = Preprocessor(config)
    prepared = []
    for image in images:
        tensor, transform = prep(image)
        with torch.no_grad():
            outs = [o.cpu().numpy() for o in model(torch.from_numpy(tensor).cuda())]
        prepared.append(([outs[i] for i in order], transform))
    start, rounds = time.perf_counter(), 20
    for _ in range(rounds):
        for outputs, transform in prepared:
            final = detections(decoder, config, outputs)
            to_detections(final, transform.to_frame(final.boxes))
    return (time.perf_counter() - start) * 1000 / (rounds * len(prepared))


def tracker_ms(objects: int = 20, frames: int = 600) -> float:
    from watchkeeper.analyzers.track import ByteTracker
    from watchkeeper.domain.detections import Detections

    rng = np.random.default_rng(1)
    start_xy = rng.uniform([50, 50], [1870, 1030], size=(objects, 2))
    velocity = rng.uniform(-40, 40, size=(objects, 2))
    half = rng.uniform([20, 40], [60, 120], size=(objects, 2)) / 2
    tracker = ByteTracker()
    elapsed = 0.0
    for frame in range(frames):
        centre = np.abs(np.mod(start_xy + velocity * frame, 2 * np.array([1920, 1080])) - [1920, 1080])
        keep = rng.random(objects) >= 0.1
        noisy = centre[keep] + rng.normal(0, 1.0, size=(int(keep.sum()), 2))
        dets = Detections(
            xyxy=np.hstack([noisy - half[keep], noisy + half[keep]]).astype(np.float32),
            confidence=rng.uniform(0.45, 0.95, size=int(keep.sum())).astype(np.float32),
            class_id=np.zeros(int(keep.sum()), dtype=np.int32),
        )
        begin = time.perf_counter()
        tracker.update(dets, frame / 5.0)
        elapsed += time.perf_counter() - begin
    return elapsed * 1000 / frames


def capacity(
    gpu_fps: float, decode_fps: float, cpu_ms: float, cores: int, detect_fps: float
) -> tuple[float, str]:
    """Streams = min(GPU, CPU); ``decode_fps``: all-cores rate of decode + analysis at ``detect_fps``."""
    by_gpu = gpu_fps / detect_fps
    core_seconds = cores * FPS / decode_fps + detect_fps * cpu_ms / 1000
    by_cpu = (cores - 1) / core_seconds
    return min(by_gpu, by_cpu), "GPU inference" if by_gpu < by_cpu else "CPU (decode + analysis)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("var/models/nanodet.onnx"))
    parser.add_argument("--clip-seconds", type=int, default=10)
    parser.add_argument("--bitrate", type=int, default=4_000_000)
    parser.add_argument("--decode-seconds", type=float, default=8.0)
    parser.add_argument("--gpu-seconds", type=float, default=2.0)
    parser.add_argument("--batches", default="1,8,32,64")
    args = parser.parse_args()
    import onnx2torch
    import torch

    cores = os.cpu_count() or 1
    clip = Path(tempfile.gettempdir()) / "gpu_streams_1080p30.mp4"
    began = time.perf_counter()
    make_clip(clip, args.clip_seconds, args.bitrate)
    print(
        f"clip: {clip.stat().st_size * 8 / args.clip_seconds / 1e6:.2f} Mbit/s, "
        f"{time.perf_counter() - began:.1f} s"
    )
    decode = {every: decode_throughput(clip, cores, every, args.decode_seconds) for every in (0, 6, 1)}
    print(
        f"decode fps, {cores} processes: only {decode[0]:.0f}, "
        f"+analysis 5 fps {decode[6]:.0f}, +30 fps {decode[1]:.0f}"
    )

    torch.backends.cudnn.benchmark = True
    model = onnx2torch.convert(str(args.model)).cuda().eval()
    images = reference_images(clip, 8)
    check, config, decoder_order = verify(model, args.model, images)
    print("verification:", json.dumps(check))
    table: dict[str, dict[str, float]] = {}
    for precision in ("fp32", "fp16") if check["fp16_same_detections"] else ("fp32",):
        for copy_back in (False, True):
            key = f"{precision}{'+outputs_to_host' if copy_back else ''}"
            table[key] = {
                str(batch): round(
                    gpu_throughput(model, config, batch, precision == "fp16", copy_back, args.gpu_seconds), 1
                )
                for batch in (int(b) for b in args.batches.split(","))
            }
            print(key, table[key])
    post = postprocess_ms(model, config, decoder_order, images)
    track = tracker_ms()
    print(
        f"CPU per analysed frame: decode outputs + NMS {post:.3f} ms, "
        f"ByteTracker.update (20 objects) {track:.3f} ms"
    )
    best_key = "fp16+outputs_to_host" if "fp16+outputs_to_host" in table else "fp32+outputs_to_host"
    gpu_fps = max(table[best_key].values())
    at5, limit5 = capacity(gpu_fps, decode[6], post + track, cores, 5)
    at30, limit30 = capacity(gpu_fps, decode[1], post + track, cores, 30)
    print(
        f"\n| detect rate | streams | limit |\n|---|---|---|\n"
        f"| 5 fps | {at5:.0f} | {limit5} |\n| 30 fps | {at30:.0f} | {limit30} |"
    )
    print(
        json.dumps(
            {
                "gpu": torch.cuda.get_device_name(),
                "detector_fps_batch": table,
                "verification": check,
                "decode_fps_1080p_per_core": round(decode[0] / cores, 1),
                "decode_fps_1080p_all_cores": {
                    "only": round(decode[0]),
                    "analysis_5fps": round(decode[6]),
                    "analysis_30fps": round(decode[1]),
                },
                "postprocess_ms": round(post, 3),
                "tracker_update_ms": round(track, 3),
                "cores": cores,
                "capacity_gpu_fps": gpu_fps,
                "streams_at_5fps_detect": int(at5),
                "streams_at_30fps_detect": int(at30),
                "limit": f"5 fps: {limit5}; 30 fps: {limit30}",
            }
        )
    )


if __name__ == "__main__":
    main()
