"""A site whose link to PostgreSQL goes down keeps recording and catches up when it is back, once.

A real ``watchkeeper serve --role worker`` records a simulated RTSP camera; its database URL goes through a
TCP hop (:class:`TcpLink`) to the real PostgreSQL, which the test closes for a while and reopens. NATS (the
site's leases and bus) stays up, so the worker keeps its lease. An API node reaches PostgreSQL directly.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.cluster.roles_support import Cluster, Worker, recording_gaps
from tests.cluster.roles_support import cluster_rig as rig_of
from tests.conftest import LiveServer, free_port, wait_for
from tests.storage.pg import PG_PORT
from tests.support.tcp_link import TcpLink
from watchkeeper.domain import CameraId, Event, Rendition, utcnow
from watchkeeper.simulator import RtspServer
from watchkeeper.storage.factory import open_store

CAM = "cam1"
SEGMENT_S = 2.0
CUT_S = 12.0
"""How long the link stays down (several segments, and a couple of walker crossings of the footage)."""


def _linked_worker(rig: Cluster, worker_id: str, link: TcpLink) -> Worker:
    """Start a worker whose database URL goes through ``link``."""
    port = free_port()
    config = rig.config(worker_id, port, worker_id=worker_id)
    document = yaml.safe_load(config.read_text())
    document["storage"]["database_url"] = rig.database_url.replace(f":{PG_PORT}/", f":{link.port}/")
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    return Worker(worker_id, port, config, rig.start(config, port, "worker"))


def _health(worker: Worker) -> dict[str, Any]:
    try:
        response = httpx.get(f"http://127.0.0.1:{worker.port}/api/health", timeout=2)
    except httpx.HTTPError:
        return {}
    return dict(response.json()) if response.status_code == 200 else {}


def _caught_up(worker: Worker) -> bool:
    health = _health(worker)
    return bool(health) and health["store_reachable"] and health["outbox_depth"] == 0


def _metric(worker: Worker, name: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{worker.port}/metrics", timeout=5).text
    found = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE)
    assert found is not None, f"{name} missing from the worker's metrics"
    return float(found.group(1))


def _events_between(rig: Cluster, start: datetime, end: datetime) -> list[Event]:
    store = open_store(rig.database_url)
    try:
        events = store.events.list(camera_id=CameraId(CAM), since=start - timedelta(minutes=1), limit=1000)
    finally:
        store.close()
    return [event for event in events if start <= event.start <= end]


def _attached_events(api: LiveServer) -> list[str]:
    """Event ids attached to every incident (an incident opened by an event attaches it)."""
    with api.client() as client:
        page = client.get("/api/incidents", params={"camera_id": CAM, "limit": 500})
        page.raise_for_status()
        found: list[str] = []
        for item in page.json()["items"]:
            detail = client.get(f"/api/incidents/{item['id']}")
            detail.raise_for_status()
            found += [attachment["event_id"] for attachment in detail.json()["attachments"]]
    return found


def _files_on_disk(rig: Cluster) -> set[str]:
    media = rig.folder / "media"
    return {
        str(path.relative_to(media))
        for path in (media / CAM).rglob("*.mp4")
        if not any(part.startswith(".") for part in path.relative_to(media).parts)
    }


@pytest.mark.timeout(300)
def test_a_worker_cut_off_from_postgresql_records_on_and_catches_up_once(
    sim_cameras: RtspServer, tmp_path: Path
) -> None:
    with (
        rig_of(tmp_path, {CAM: sim_cameras.url(f"/{CAM}")}, segment_seconds=SEGMENT_S, incidents=True) as rig,
        TcpLink(PG_PORT) as link,
    ):
        api = rig.start_api("api1")
        worker = _linked_worker(rig, "w1", link)
        wait_for(lambda: worker.cameras() == [CAM], 30, "w1 to lease cam1")
        wait_for(lambda: len(rig.segments(CAM)) >= 2, 30, "two segments of cam1")
        began = min(segment.start for segment in rig.segments(CAM))

        before_cut = len(rig.segments(CAM))
        cut_at = utcnow()
        link.close()
        held: list[list[str]] = []
        until = time.monotonic() + CUT_S
        while time.monotonic() < until:
            held.append(worker.cameras())
            time.sleep(1.0)
        away = _health(worker)
        indexed_during_cut = len(rig.segments(CAM))

        restored_at = utcnow()
        back = time.monotonic()
        link.reopen()
        wait_for(lambda: _caught_up(worker), 30, "the outbox to catch up")
        catch_up_s = time.monotonic() - back
        rows = _metric(worker, "watchkeeper_outbox_last_catch_up_rows")
        replay_s = _metric(worker, "watchkeeper_outbox_last_catch_up_seconds")
        print(
            f"site link cut {CUT_S:.0f} s: {rows:.0f} rows replayed in {replay_s:.2f} s "
            f"({rows / replay_s if replay_s else 0:.0f}/s); link back to empty outbox {catch_up_s:.2f} s"
        )

        # The lease lives in NATS: the worker kept the camera all along and recorded on.
        assert held
        assert all(cameras == [CAM] for cameras in held), held
        assert away["store_reachable"] is False
        assert away["outbox_depth"] >= CUT_S / SEGMENT_S  # both renditions' segments wait, and events
        assert _metric(worker, "watchkeeper_outbox_outages_total") == 1
        assert _metric(worker, "watchkeeper_outbox_refused_total") == 0
        assert _metric(worker, "watchkeeper_outbox_dropped_total") == 0
        assert rows >= CUT_S / SEGMENT_S
        log_text = worker.log_text()
        assert "store unreachable" in log_text
        assert "outbox caught up" in log_text

        # Events raised during the cut reach the events table once, the API and the incidents.
        during = _events_between(rig, cut_at, restored_at)
        assert during, "no event during the cut (the footage has walkers every few seconds)"
        with api.client() as client:
            listed = client.get("/api/events", params={"camera_id": CAM, "since": cut_at.isoformat()})
        listed.raise_for_status()
        listed_ids = [item["id"] for item in listed.json()]
        assert len(listed_ids) == len(set(listed_ids))
        assert {event.id for event in during} <= set(listed_ids)
        attached = _attached_events(api)
        assert len(attached) == len(set(attached)), "an event opened two incidents"
        assert {event.id for event in during} & set(attached), "no incident from an event of the cut"

        # Stop the worker (it closes and indexes its open segment), then compare the disk and the index.
        assert indexed_during_cut <= before_cut + 1  # at most one row was on its way when the link went
        worker.process.terminate()
        assert worker.process.wait(timeout=60) == 0
        store = open_store(rig.database_url)
        try:
            indexed = [item.path for item in store.segments.list(CameraId(CAM), limit=10_000, rendition=None)]
            originals = list(store.segments.list(CameraId(CAM), limit=10_000, rendition=Rendition.ORIGINAL))
        finally:
            store.close()
        assert len(indexed) == len(set(indexed)), "a segment indexed twice"
        on_disk = _files_on_disk(rig)
        assert set(indexed) == on_disk, (sorted(on_disk - set(indexed)), sorted(set(indexed) - on_disk))
        cut_segments = [item for item in originals if cut_at <= item.start <= restored_at]
        # Segments are cut on keyframes: on a loaded machine one may run to twice its length; the gap
        # check below says the cut is covered.
        assert len(cut_segments) >= CUT_S / (2 * SEGMENT_S) - 1, [item.start for item in originals]
        gaps = recording_gaps(originals, after=began)
        assert gaps
        assert max(gaps) <= SEGMENT_S, gaps
