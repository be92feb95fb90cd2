"""Outbox catch-up: how fast a worker's store outbox replays index rows and events after an outage.

A fresh PostgreSQL database (or SQLite file); N rows (segment rows of both renditions of C cameras, and one
event change for every 5 segments) wait in a worker's outbox journal, as after the store was away; the
outbox then replays them (fenced writes, one transaction each) and the time until the journal is empty is
measured. Baseline from the same run: the same rows written straight through ``store.fences`` in a loop (the
write rate with no outbox), in a second fresh database.

Last line, one JSON object: ``{"backend", "rows", "replay_s", "replay_rows_per_s", "direct_s",
"direct_rows_per_s", "load_1m"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from watchkeeper.bus.messages import BusMessage  # noqa: E402
from watchkeeper.domain import CameraId, Event, EventKind, Rendition, Segment  # noqa: E402
from watchkeeper.runtime.outbox import StoreOutbox  # noqa: E402
from watchkeeper.runtime.outbox_journal import NewEntry, OutboxJournal  # noqa: E402
from watchkeeper.storage.factory import open_store  # noqa: E402
from watchkeeper.storage.protocols import Store  # noqa: E402

T0 = datetime(2026, 12, 6, tzinfo=UTC)
TOKEN = 7


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--pg", default="host=127.0.0.1 port=5432 user=postgres", help="libpq admin DSN")
    parser.add_argument("--rows", type=int, default=2000, help="rows waiting in the outbox")
    parser.add_argument("--cameras", type=int, default=10, help="cameras the rows belong to")
    parser.add_argument("--quick", action="store_true", help="200 rows")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows = 200
    return args


def records(rows: int, cameras: int) -> Iterator[Segment | Event]:
    """Segment rows (original and protected, 2 s each) and an ended event for every 5 segments."""
    for number in range(rows):
        camera = CameraId(f"cam{number % cameras}")
        start = T0 + timedelta(seconds=2 * (number // cameras))
        if number % 6 == 5:
            yield Event(f"ev-{number}", camera, EventKind.MOTION, start, start + timedelta(seconds=1), 0.5)
            continue
        rendition = Rendition.PROTECTED if number % 2 else Rendition.ORIGINAL
        yield Segment(
            camera_id=camera,
            start=start,
            end=start + timedelta(seconds=2),
            path=f"{camera}/{rendition.value}/{number:08d}.mp4",
            size_bytes=500_000,
            video_codec="h264",
            width=1920,
            height=1080,
            keyframes=1,
            rendition=rendition,
        )


def entry_of(record: Segment | Event) -> NewEntry:
    """The outbox entry of one record (already announced, as rows queued during an outage are)."""
    if isinstance(record, Segment):
        return NewEntry.of_segment(record, TOKEN, published=True)
    return NewEntry.of_event(record, "ended", TOKEN, published=True)


@contextmanager
def fresh_store(args: argparse.Namespace, folder: Path) -> Iterator[Store]:
    """A migrated store in a fresh database (dropped afterwards)."""
    if args.backend == "sqlite":
        store = open_store(f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}")
        try:
            yield store
        finally:
            store.close()
        return
    name = f"wk_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{args.pg} dbname=postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = dict(item.split("=", 1) for item in args.pg.split())
    store = open_store(f"postgresql+psycopg://{dsn['user']}@{dsn['host']}:{dsn['port']}/{name}")
    try:
        yield store
    finally:
        store.close()
        with psycopg.connect(f"{args.pg} dbname=postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def replay(args: argparse.Namespace, folder: Path) -> float:
    """Seconds for the outbox to replay ``args.rows`` waiting rows."""
    with fresh_store(args, folder) as store:
        journal = OutboxJournal(folder / "outbox" / f"{uuid.uuid4().hex}.sqlite")
        for record in records(args.rows, args.cameras):
            journal.append(entry_of(record))
        announced: list[BusMessage] = []
        outbox = StoreOutbox(journal, store.fences, announced.append)
        began = time.perf_counter()
        outbox.start()
        while outbox.snapshot().depth:
            time.sleep(0.005)
        took = time.perf_counter() - began
        stats = outbox.snapshot()
        outbox.close()
        if stats.replayed != args.rows or stats.refused or stats.dropped:
            raise SystemExit(f"replay incomplete: {stats}")
        return took


def direct(args: argparse.Namespace, folder: Path) -> float:
    """Seconds to write the same rows straight through ``store.fences`` (no outbox)."""
    with fresh_store(args, folder) as store:
        items = list(records(args.rows, args.cameras))
        began = time.perf_counter()
        for record in items:
            if isinstance(record, Segment):
                store.fences.add_segment(record, TOKEN)
            else:
                store.fences.upsert_event(record, TOKEN)
        return time.perf_counter() - began


def main(argv: list[str] | None = None) -> None:
    """Run both measurements and print them."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wk-outbox-bench-") as name:
        folder = Path(name)
        replay_s = replay(args, folder)
        direct_s = direct(args, folder)
    load = os.getloadavg()[0]
    print(f"{args.backend}: {args.rows} rows, {args.cameras} cameras, load average {load:.2f}")
    print(f"outbox replay : {replay_s:.2f} s  ({args.rows / replay_s:.0f} rows/s)")
    print(f"direct writes : {direct_s:.2f} s  ({args.rows / direct_s:.0f} rows/s)  (baseline)")
    summary = {
        "backend": args.backend,
        "rows": args.rows,
        "replay_s": round(replay_s, 3),
        "replay_rows_per_s": round(args.rows / replay_s, 1),
        "direct_s": round(direct_s, 3),
        "direct_rows_per_s": round(args.rows / direct_s, 1),
        "load_1m": round(load, 2),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
