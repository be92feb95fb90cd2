"""Storage tiering against a local OpenStack Swift (s3api): upload throughput and warm vs hot read latency.

Starts its own single-node Swift (Debian packages, see ../shared/SERVICES.md), indexes N segment files of
SIZE bytes, runs one tiering pass (hash, upload, read back and re-hash, index switch, local delete) and
reports MB/s of segment bytes moved. Then it times reading the first 256 KiB (what a player fetches first)
of the same segment from the hot tier (local file) and from the warm tier (ranged GET through Swift), in
the same run. The baseline beside the upload figure is a plain boto3 PUT of the same bytes (no hashing,
no verification) so the verification cost is visible.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/tiering.py [--segments 20] [--size-mb 2]

The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from tests.support.swift import start_swift
from tests.tiers.conftest import CAMERA, add_segment, s3_settings
from watchkeeper.domain import Camera, Site, SiteId
from watchkeeper.media.protocol import SegmentFiles
from watchkeeper.media.s3 import S3ObjectStore
from watchkeeper.recorder.tiering import TieringManager, TieringPolicy
from watchkeeper.storage.factory import open_store

READ_BYTES = 256 * 1024


def _read_ms(files: SegmentFiles, segment: object, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        data = b"".join(files.iter_range(segment, 0, READ_BYTES))  # type: ignore[arg-type]
        samples.append((time.perf_counter() - started) * 1000)
        assert len(data) == READ_BYTES
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=20, help="segment files to move")
    parser.add_argument("--size-mb", type=float, default=2.0, help="size of each segment in MB")
    parser.add_argument("--repeats", type=int, default=30, help="reads timed per tier")
    args = parser.parse_args()
    size = int(args.size_mb * 1_000_000)
    root = Path(tempfile.mkdtemp(prefix="wk-tiering-"))
    swift = start_swift(root / "swift")
    try:
        bucket = S3ObjectStore(s3_settings(swift, f"wk-bench-{uuid.uuid4().hex[:8]}"))
        bucket.ensure_bucket()
        store = open_store(f"sqlite:///{root / 'index.db'}")
        store.sites.upsert(Site(SiteId("site"), "Site"))
        store.cameras.upsert(Camera(CAMERA, "Camera", SiteId("site")))
        media = root / "media"
        payload = os.urandom(size)
        segments = [add_segment(store, media, payload, minute=i) for i in range(args.segments + 1)]

        # Baseline: plain PUTs of the same bytes, no hashing or read-back.
        started = time.perf_counter()
        for index in range(args.segments):
            bucket._client.put_object(Bucket=bucket.bucket, Key=f"baseline/{index}", Body=payload)
        baseline_s = time.perf_counter() - started

        hot = segments[-1]  # stays hot (it ends after the cut-off)
        tiering = TieringManager(
            store,
            media,
            bucket,
            TieringPolicy(warm_after_s=0, batch=args.segments),
            lambda: hot.end - timedelta(seconds=1),
        )
        started = time.perf_counter()
        report = tiering.run_once()
        tier_s = time.perf_counter() - started
        assert report.moved == args.segments, report

        files = SegmentFiles(media, bucket)
        warm = store.segments.get(segments[0].id or 0)
        hot_ms = _read_ms(files, hot, args.repeats)
        warm_ms = _read_ms(files, warm, args.repeats)
        moved_mb = report.moved_bytes / 1e6
        result = {
            "segments": args.segments,
            "segment_mb": args.size_mb,
            "tiering_mb_per_s": round(moved_mb / tier_s, 2),
            "baseline_put_mb_per_s": round(moved_mb / baseline_s, 2),
            "read_256k_hot_ms": round(hot_ms, 2),
            "read_256k_warm_ms": round(warm_ms, 2),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
        print(
            f"tiering (hash + upload + read-back verify + index + delete): {result['tiering_mb_per_s']} MB/s"
        )
        print(f"baseline plain PUT of the same bytes: {result['baseline_put_mb_per_s']} MB/s")
        print(f"first 256 KiB: hot {hot_ms:.2f} ms, warm {warm_ms:.2f} ms (median of {args.repeats})")
        print(json.dumps(result))
        store.close()
    finally:
        swift.close()


if __name__ == "__main__":
    main()
