"""The worker's store outbox over real stores: rows wait on local disk while PostgreSQL is away, and replay
in order, once, and only under a fencing token that is still current."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.storage.pg import PG_PORT, fresh_pg_database, migrated_store
from tests.support.tcp_link import TcpLink
from watchkeeper.bus.messages import BusMessage, EventMessage, SegmentMessage
from watchkeeper.domain import CameraId, Event, EventKind, Rendition, Segment
from watchkeeper.domain.outbox import OutboxSnapshot
from watchkeeper.integrations.prometheus import PrometheusExporter
from watchkeeper.recorder.quarantine import QUARANTINE, FencedSegmentQuarantine, uncovered
from watchkeeper.runtime.metrics import RuntimeMetrics
from watchkeeper.runtime.outbox import OutboxHooks, RetryPolicy, StoreOutbox
from watchkeeper.runtime.outbox_journal import (
    NewEntry,
    OutboxError,
    OutboxInUseError,
    OutboxJournal,
    open_journal,
)
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store

T0 = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
CAM = CameraId("gate-north")
FAST = RetryPolicy(initial_s=0.1, max_s=0.3)


class Bus:
    """What the outbox announced (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[BusMessage] = []

    def publish(self, message: BusMessage) -> None:
        with self._lock:
            self.messages.append(message)

    def events(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(m.id, m.event_state) for m in self.messages if isinstance(m, EventMessage)]

    def segments(self) -> list[SegmentMessage]:
        with self._lock:
            return [m for m in self.messages if isinstance(m, SegmentMessage)]


def segment(number: int, rendition: Rendition = Rendition.ORIGINAL) -> Segment:
    start = T0 + timedelta(seconds=2 * number)
    folder = "protected/" if rendition is Rendition.PROTECTED else ""
    return Segment(
        camera_id=CAM,
        start=start,
        end=start + timedelta(seconds=2),
        path=f"{CAM}/{folder}{number:06d}.mp4",
        size_bytes=1000 + number,
        video_codec="h264",
        width=640,
        height=360,
        keyframes=1,
        rendition=rendition,
    )


def motion(number: int, *, ended: bool = False) -> Event:
    start = T0 + timedelta(seconds=number)
    return Event(
        f"ev-{number}", CAM, EventKind.MOTION, start, start + timedelta(seconds=1) if ended else None, 0.4
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with migrated_store(request.param, tmp_path) as opened:
        yield opened


def _outbox(tmp_path: Path, store: Store, bus: Bus) -> StoreOutbox:
    return StoreOutbox(OutboxJournal(tmp_path / "outbox" / "w1.sqlite"), store.fences, bus.publish, FAST)


def _replayed(outbox: StoreOutbox) -> OutboxSnapshot:
    """Start ``outbox``, wait until its journal is empty, close it; its counters then."""
    outbox.start()
    wait_for(lambda: outbox.snapshot().depth == 0, 10, "the replay")
    stats = outbox.snapshot()
    outbox.close()
    return stats


def _paths(store: Store) -> list[str]:
    return [item.path for item in store.segments.list(CAM, limit=1000, rendition=None)]


@contextmanager
def linked_stores() -> Iterator[tuple[Store, Store, TcpLink]]:
    """A fresh PostgreSQL database opened directly and through a link the test can close."""
    with fresh_pg_database() as url, TcpLink(PG_PORT) as link:
        direct = open_store(url)
        linked = open_store(url.replace(f":{PG_PORT}/", f":{link.port}/"))
        try:
            yield direct, linked, link
        finally:
            linked.close()
            direct.close()


def test_rows_wait_while_postgresql_is_away_and_replay_in_order_once(tmp_path: Path) -> None:
    with linked_stores() as (direct, linked, link):
        bus = Bus()
        outbox = _outbox(tmp_path, linked, bus)
        outbox.start()
        try:
            outbox.add_segment(segment(0), 3)
            wait_for(lambda: outbox.snapshot().depth == 0 and _paths(direct), 10, "the first row written")
            link.close()
            outbox.add_segment(segment(1), 3)
            wait_for(lambda: not outbox.store_reachable, 10, "the outbox to notice the store is away")
            outbox.add_segment(segment(1, Rendition.PROTECTED), 3)
            outbox.add_event(motion(1), "started", 3)
            outbox.add_event(motion(1, ended=True), "ended", 3)
            outbox.add_segment(segment(2), 3)
            away = outbox.snapshot()
            assert away.depth == 5
            assert away.outages == 1
            # Alarms and segments go out on the bus at once; the index waits.
            assert bus.events() == [("ev-1", "started"), ("ev-1", "ended")]
            announced = [m.path for m in bus.segments()][1:]
            assert announced == [segment(1).path, segment(1, Rendition.PROTECTED).path, segment(2).path]
            assert all(m.segment_id is None for m in bus.segments()[1:])
            assert _paths(direct) == [segment(0).path]
            link.reopen()
            wait_for(lambda: outbox.snapshot().depth == 0, 15, "the outbox to catch up")
            back = outbox.snapshot()
        finally:
            outbox.close()
        assert back.store_reachable
        assert back.replayed == 5
        assert back.last_catch_up_rows == 5
        assert back.refused == back.dropped == back.duplicates == 0
        paths = _paths(direct)
        assert sorted(paths) == sorted(
            [segment(n).path for n in range(3)] + [segment(1, Rendition.PROTECTED).path]
        )
        assert len(paths) == len(set(paths))
        stored = direct.events.get("ev-1")
        assert stored is not None
        assert stored.end == motion(1, ended=True).end
        # Nothing announced twice: the replay wrote only the rows.
        assert bus.events() == [("ev-1", "started"), ("ev-1", "ended")]
        assert len(bus.segments()) == 4


def test_a_replayed_segment_already_indexed_is_not_indexed_twice(store: Store, tmp_path: Path) -> None:
    # The first write committed but its answer was lost: the row is in the index and still in the outbox.
    assert store.fences.add_segment(segment(0), 4) is not None
    journal = OutboxJournal(tmp_path / "outbox" / "w1.sqlite")
    journal.append(NewEntry.of_segment(segment(0), 4, published=False))
    journal.append(NewEntry.of_event(motion(0), "started", 4, published=False))
    journal.append(NewEntry.of_event(motion(0), "started", 4, published=False))
    bus = Bus()
    stats = _replayed(StoreOutbox(journal, store.fences, bus.publish, FAST))
    assert stats.duplicates == 1
    assert stats.replayed == 2
    assert _paths(store) == [segment(0).path]
    assert store.events.get("ev-0") is not None
    assert len(store.events.list(camera_id=CAM, limit=10)) == 1


def test_replay_refuses_rows_of_a_superseded_fencing_token(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "outbox" / "w1.sqlite"
    journal = OutboxJournal(path)
    journal.append(NewEntry.of_segment(segment(0), 5, published=False))
    journal.append(NewEntry.of_event(motion(0), "started", 5, published=True))
    journal.close()
    # While this worker was cut off, another one took the camera over (token 6) and indexed a segment.
    assert store.fences.add_segment(segment(1), 6) is not None
    bus = Bus()
    outbox = StoreOutbox(OutboxJournal(path), store.fences, bus.publish, FAST)
    with caplog.at_level(logging.WARNING, logger="watchkeeper.runtime.outbox"):
        stats = _replayed(outbox)
    assert stats.refused == 2
    assert stats.replayed == 0
    assert _paths(store) == [segment(1).path]
    assert store.events.get("ev-0") is None
    assert bus.messages == []  # nothing announced for refused rows
    refusals = [record for record in caplog.records if "fencing token 5 is stale" in record.getMessage()]
    assert len(refusals) == 2
    assert {getattr(record, "camera", None) for record in refusals} == {CAM}
    assert "announced on the bus while the store was away" in refusals[1].getMessage()


def _write_files(media: Path, *segments: Segment) -> None:
    for item in segments:
        path = media / item.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"WKENC1 sealed bytes of " + item.path.encode())  # encrypted originals stay sealed


def _owners(number: int, rendition: Rendition = Rendition.ORIGINAL, *, shift_s: float = 0.0) -> Segment:
    """The new owner's segment over the seconds of ``segment(number)`` (its own file, ``shift_s`` later)."""
    item = segment(number, rendition)
    moved = timedelta(seconds=shift_s)
    path = item.path.replace(f"{CAM}/", f"{CAM}/owner{shift_s:+.1f}/")
    return replace(item, path=path, start=item.start + moved, end=item.end + moved)


def _refused_outbox(tmp_path: Path, store: Store, media: Path, *refused: Segment) -> StoreOutbox:
    path = tmp_path / "outbox" / "w1.sqlite"
    journal = OutboxJournal(path)
    for item in refused:
        journal.append(NewEntry.of_segment(item, 5, published=False))
    journal.close()
    hook = FencedSegmentQuarantine(media, store.retention, store.segments)
    return StoreOutbox(OutboxJournal(path), store.fences, Bus().publish, FAST, OutboxHooks(quarantine=hook))


def test_the_file_of_a_refused_segment_the_new_owner_recorded_too_goes_to_the_quarantine(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    media = tmp_path / "media"
    original, protected, indexed = segment(0), segment(0, Rendition.PROTECTED), segment(2)
    _write_files(media, original, protected, indexed)
    # Meanwhile the camera's new owner (token 6) recorded the same seconds in both renditions (its segments
    # meet 0.2 s late: a frame at the boundary) and, in its recovery, indexed the cut-off worker's quiet file
    # segment(2): that file is indexed and must stay where it is.
    for item in (_owners(0, shift_s=-1), _owners(0, shift_s=1.2), _owners(0, Rendition.PROTECTED), indexed):
        assert store.fences.add_segment(item, 6) is not None
    before = sorted(_paths(store))
    outbox = _refused_outbox(tmp_path, store, media, original, protected, indexed, segment(3))  # 3: no file
    metrics = RuntimeMetrics(tmp_path, list, outbox=outbox.snapshot)
    with caplog.at_level(logging.WARNING, logger="watchkeeper.runtime.outbox"):
        outbox.start()
        wait_for(lambda: outbox.snapshot().depth == 0, 10, "the replay")
        stats = outbox.snapshot()
        text = PrometheusExporter(metrics.snapshot, process_metrics=False).render().decode()
        outbox.close()
    assert (stats.refused, stats.quarantined, stats.indexed_stale) == (4, 2, 0)
    assert "watchkeeper_outbox_quarantined_total 2.0" in text
    assert not (media / original.path).exists()
    assert not (media / protected.path).exists()
    assert (media / indexed.path).exists()
    aside = media / QUARANTINE
    for item, flat in ((original, "gate-north_000000.mp4"), (protected, "gate-north_protected_000000.mp4")):
        assert (aside / flat).read_bytes() == b"WKENC1 sealed bytes of " + item.path.encode()
        reason = json.loads((aside / f"{flat}.reason").read_text())
        assert (reason["reason"], reason["camera"], reason["token"]) == ("fenced", CAM, 5)
    assert sorted(_paths(store)) == before  # the index is untouched
    refusals = [r.getMessage() for r in caplog.records if "fencing token 5 is stale" in r.getMessage()]
    assert len(refusals) == 4  # one line per refused row, saying what became of its file
    assert "quarantined as gate-north_000000.mp4" in refusals[0]
    assert "quarantined as gate-north_protected_000000.mp4" in refusals[1]
    assert refusals[2].endswith("its file was not moved")
    assert refusals[3].endswith("its file was not moved")


def test_a_refused_segment_with_seconds_nobody_else_recorded_is_indexed_anyway(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The cut-off worker recorded on until its watchdog stopped the camera; the new owner started a lease
    # timeout later: 0 is before it began, 1 overlaps its start by half, and the new owner recorded only the
    # originals of 2 (the protected copy of 2 exists nowhere else).
    media = tmp_path / "media"
    first, straddling, covered, protected = (
        segment(0),
        segment(1),
        segment(2),
        segment(2, Rendition.PROTECTED),
    )
    _write_files(media, first, straddling, covered, protected)
    for item in (_owners(1, shift_s=1), _owners(2, shift_s=1), _owners(3, shift_s=1)):
        assert store.fences.add_segment(item, 6) is not None
    outbox = _refused_outbox(tmp_path, store, media, first, straddling, covered, protected)
    metrics = RuntimeMetrics(tmp_path, list, outbox=outbox.snapshot)
    with caplog.at_level(logging.WARNING):
        outbox.start()
        wait_for(lambda: outbox.snapshot().depth == 0, 10, "the replay")
        stats = outbox.snapshot()
        text = PrometheusExporter(metrics.snapshot, process_metrics=False).render().decode()
        outbox.close()
    assert (stats.refused, stats.quarantined, stats.indexed_stale) == (4, 1, 3)
    assert "watchkeeper_outbox_indexed_stale_total 3.0" in text
    indexed = {item.path for item in store.segments.list(CAM, limit=100, rendition=None)}
    assert {first.path, straddling.path, protected.path} <= indexed  # rows added without the fence
    assert covered.path not in indexed
    for item in (first, straddling, protected):
        assert (media / item.path).is_file()  # indexed where they are: playback and retention see them
    assert not (media / covered.path).exists()
    assert (media / QUARANTINE / "gate-north_000002.mp4").is_file()
    lines = [r.getMessage() for r in caplog.records]
    assert sum("indexed the stale owner's segment: nobody else recorded" in line for line in lines) == 3
    assert f"nobody else recorded {first.start.isoformat()}-{first.end.isoformat()}" in "\n".join(lines)
    refusals = [line for line in lines if "fencing token 5 is stale" in line]
    assert [line.endswith("indexed anyway (nobody else recorded its seconds)") for line in refusals] == [
        True,
        True,
        False,
        True,
    ]


def test_coverage_counts_only_gaps_longer_than_a_frame_or_two() -> None:
    refused = segment(0)  # [0 s, 2 s)
    assert not uncovered(refused, [_owners(0, shift_s=-0.5), _owners(0, shift_s=1.9)])
    assert not uncovered(refused, [_owners(0, shift_s=0.3)])  # 0.3 s late: within the slack
    assert uncovered(refused, [_owners(0, shift_s=0.8)])  # its first 0.8 s exist nowhere else
    assert uncovered(refused, [_owners(0, shift_s=-1.5)])  # its last 1.5 s
    assert uncovered(refused, [_owners(0, shift_s=-1.5), _owners(0, shift_s=1.5)])  # 1 s hole in the middle
    assert uncovered(refused, [])


def test_rows_left_by_a_stopped_worker_are_replayed_at_its_next_start(tmp_path: Path) -> None:
    with linked_stores() as (direct, linked, link):
        link.close()
        bus = Bus()
        first = _outbox(tmp_path, linked, bus)
        first.start()
        first.add_segment(segment(0), 2)
        wait_for(lambda: not first.store_reachable, 10, "the outbox to notice the store is away")
        first.add_event(motion(0), "started", 2)
        first.close(flush_timeout_s=0.5)  # the store is still away: the rows stay in the file
        link.reopen()
        second = _outbox(tmp_path, linked, bus)
        second.start()
        try:
            wait_for(lambda: second.snapshot().depth == 0, 10, "the next start's replay")
            assert second.snapshot().replayed == 2
        finally:
            second.close()
        assert _paths(direct) == [segment(0).path]
        assert direct.events.get("ev-0") is not None


def test_one_outbox_file_belongs_to_one_process(tmp_path: Path) -> None:
    path = tmp_path / "outbox" / "w1.sqlite"
    held = OutboxJournal(path)
    try:
        with pytest.raises(OutboxError, match="in use by another process"):
            OutboxJournal(path)
    finally:
        held.close()
    OutboxJournal(path).close()  # free again once closed


def test_workers_of_one_host_without_ids_take_the_next_free_journal(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    first = open_journal(folder, "host-a", shared_name=True)
    second = open_journal(folder, "host-a", shared_name=True)
    try:
        assert (first.path.name, second.path.name) == ("host-a.sqlite", "host-a-1.sqlite")
        with pytest.raises(OutboxInUseError, match="in use by another process"):
            open_journal(folder, "host-a", shared_name=False)
    finally:
        second.close()
        first.close()


def test_an_unreadable_row_is_dropped_and_does_not_block_the_rest(store: Store, tmp_path: Path) -> None:
    journal = OutboxJournal(tmp_path / "outbox" / "w1.sqlite")
    good = NewEntry.of_segment(segment(0), 1, published=False)
    journal.append(replace(good, payload='{"not": "a segment"}'))
    journal.append(good)
    bus = Bus()
    outbox = StoreOutbox(journal, store.fences, bus.publish, FAST)
    outbox.start()
    wait_for(lambda: outbox.snapshot().depth == 0, 10, "the replay")
    assert outbox.snapshot().dropped == 1
    outbox.close()
    assert _paths(store) == [segment(0).path]
    assert [m.segment_id is not None for m in bus.segments()] == [True]


def test_a_row_postgresql_rejects_is_dropped_alone(tmp_path: Path) -> None:
    with migrated_store("postgresql", tmp_path) as store:
        journal = OutboxJournal(tmp_path / "outbox" / "w1.sqlite")
        too_long = replace(segment(0), path="x" * 2000)  # longer than the column: PostgreSQL refuses it
        journal.append(NewEntry.of_segment(segment(1), 1, published=False))
        journal.append(NewEntry.of_segment(too_long, 1, published=False))
        journal.append(NewEntry.of_event(motion(2), "started", 1, published=False))
        bus = Bus()
        stats = _replayed(StoreOutbox(journal, store.fences, bus.publish, FAST))
        assert stats.dropped == 1
        assert stats.replayed == 2
        assert _paths(store) == [segment(1).path]
        assert store.events.get("ev-2") is not None
        assert bus.events() == [("ev-2", "started")]


def test_the_outbox_counters_are_exported_for_prometheus(store: Store, tmp_path: Path) -> None:
    journal = OutboxJournal(tmp_path / "outbox" / "w1.sqlite")
    journal.append(NewEntry.of_segment(segment(0), 3, published=False))
    journal.append(NewEntry.of_segment(segment(0), 3, published=False))  # the same row twice
    outbox = StoreOutbox(journal, store.fences, Bus().publish, FAST)
    metrics = RuntimeMetrics(tmp_path, list, outbox=outbox.snapshot)
    render = PrometheusExporter(metrics.snapshot, process_metrics=False).render
    assert "watchkeeper_outbox_depth 2.0" in render().decode()
    outbox.start()
    wait_for(lambda: outbox.snapshot().depth == 0, 10, "the replay")
    text = render().decode()
    outbox.close()
    assert "watchkeeper_outbox_depth 0.0" in text
    assert "watchkeeper_outbox_replayed_total 1.0" in text
    assert "watchkeeper_outbox_duplicates_total 1.0" in text
    assert "watchkeeper_outbox_store_reachable 1.0" in text
    assert "watchkeeper_outbox_last_catch_up_rows 2.0" in text


def test_a_hanging_link_is_detected_within_seconds_and_rows_wait(tmp_path: Path) -> None:
    with linked_stores() as (direct, linked, link):
        bus = Bus()
        outbox = _outbox(tmp_path, linked, bus)  # the default write deadline
        outbox.start()
        try:
            outbox.add_segment(segment(0), 3)
            wait_for(lambda: outbox.snapshot().depth == 0 and _paths(direct), 10, "the first row written")
            link.black_hole()  # no reset, no refusal: the store just stops answering
            hung = time.monotonic()
            outbox.add_segment(segment(1), 3)
            # Without a deadline the delivery thread waits for TCP to give up: minutes (forever here).
            wait_for(lambda: not outbox.store_reachable, 30, "the outbox to notice the hanging link")
            detected_s = time.monotonic() - hung
            outbox.add_event(motion(1), "started", 3)
            outbox.add_segment(segment(2), 3)
            wait_for(lambda: bus.events() == [("ev-1", "started")], 10, "the event announced at once")
            waiting = outbox.snapshot()
            assert waiting.depth == 3
            assert _paths(direct) == [segment(0).path]
            link.heal()
            healed = time.monotonic()
            wait_for(lambda: outbox.snapshot().depth == 0, 60, "the outbox to catch up after the hang")
            deadline_s = RetryPolicy().write_deadline_s
            print(
                f"hanging link noticed after {detected_s:.1f} s (deadline {deadline_s:.0f} s);"
                f" caught up {time.monotonic() - healed:.1f} s after it healed"
            )
            back = outbox.snapshot()
        finally:
            outbox.close()
        assert back.store_reachable
        assert back.outages == 1
        assert back.dropped == back.refused == 0
        paths = _paths(direct)
        assert sorted(paths) == [segment(n).path for n in range(3)]
        assert len(paths) == len(set(paths))
        assert direct.events.get("ev-1") is not None


def test_a_store_that_answers_before_the_first_row_counts_as_reachable(store: Store, tmp_path: Path) -> None:
    # A worker started without its store: the gate opens before any row was queued, so no delivery ever
    # failed. The outbox must still leave its start-up outage (else every key is made locally for good and
    # every segment is announced without its index id).
    ready = threading.Event()
    journal = OutboxJournal(tmp_path / "outbox" / "w1.sqlite")
    bus = Bus()
    outbox = StoreOutbox(journal, store.fences, bus.publish, FAST, OutboxHooks(store_ready=ready))
    assert not outbox.store_reachable
    assert outbox.snapshot().outages == 1
    outbox.start()
    try:
        ready.set()
        time.sleep(0.2)
        outbox.add_segment(segment(0), 3)
        wait_for(lambda: outbox.snapshot().depth == 0, 10, "the row written")
        wait_for(lambda: outbox.store_reachable, 10, "the outbox to see the store")
        outbox.add_segment(segment(1), 3)
        wait_for(lambda: len(bus.segments()) == 2, 10, "the second segment announced")
    finally:
        outbox.close()
    assert bus.segments()[-1].segment_id is not None  # written first, announced with its index id
    assert outbox.snapshot().outages == 1
