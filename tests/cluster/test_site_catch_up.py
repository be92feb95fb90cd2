"""A site cut off from the hub records on, raises its alarms locally, and the hub catches them up once.

Real processes: a hub nats-server (domain ``hub``) and a site leaf (domain ``site1``) whose link to the hub
goes through a TCP hop; a ``serve --role worker`` on the leaf (its site stream and leases live there) whose
PostgreSQL also goes through a hop; a ``serve --role api`` on the hub whose stream sources the site's. The
test cuts both hops, lets the site record and raise events, restores them and checks that the hub's API
shows each event's incident once, the cut's segments are indexed once, and a hub-side console consumer got
every event and segment of the camera once and in order.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import nats
import pytest
import yaml

from tests.cluster.roles_support import REPO, Cluster, Worker, start_role_server
from tests.cluster.roles_support import cluster_rig as rig_of
from tests.cluster.test_site_link import _attached_events, _caught_up, _events_between
from tests.conftest import LiveServer, free_port, wait_for
from tests.storage.pg import PG_PORT
from tests.support.nats_sites import Drain, SiteLink, hub_and_site, wait_linked
from tests.support.tcp_link import TcpLink
from watchkeeper.bus.messages import BusMessage, EventMessage, SegmentMessage
from watchkeeper.bus.nats import NatsBus, NatsTuning
from watchkeeper.bus.sites import SiteLayout, SiteSource
from watchkeeper.domain import CameraId, Rendition, utcnow
from watchkeeper.simulator import RtspServer
from watchkeeper.storage.factory import open_store

CAM = "cam1"
SEGMENT_S = 2.0
CUT_S = 12.0
CONSOLE = "test-console"


def _bus_keys(rig: Cluster, config: Path, url: str, **keys: object) -> None:
    document = yaml.safe_load(config.read_text())
    document["storage"]["bus"].update({"url": url, **keys})
    config.write_text(yaml.safe_dump(document, sort_keys=False))


def _site_worker(rig: Cluster, sites: SiteLink, pg: TcpLink) -> Worker:
    port = free_port()
    config = rig.config("w1", port, sites.leaf.url, worker_id="w1")
    _bus_keys(rig, config, sites.leaf.url, site="site1")
    document = yaml.safe_load(config.read_text())
    document["storage"]["database_url"] = rig.database_url.replace(f":{PG_PORT}/", f":{pg.port}/")
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    return Worker("w1", port, config, rig.start(config, port, "worker"))


def _hub_api(rig: Cluster, sites: SiteLink) -> LiveServer:
    port = free_port()
    # Leases live in the site's domain: the hub node reads the site's bucket through it.
    config = rig.config("api1", port, sites.hub.url)
    _bus_keys(rig, config, sites.hub.url, site="hub", sources=[{"domain": "site1"}])
    server = start_role_server(config, port, "api")
    rig.processes.append(server.process)
    return server


def _cluster_status(config: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "watchkeeper", "cluster", "status", "--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, cwd=REPO)


def _console(rig: Cluster, sites: SiteLink) -> NatsBus:
    source = SiteSource(domain="site1", stream=f"WKTEST_{rig.tag}", site="site1")
    return NatsBus(
        sites.hub.url,
        stream=f"WKTEST_{rig.tag}",
        subject_prefix=f"wk{rig.tag}",
        tuning=NatsTuning(fetch_timeout_s=0.3),
        layout=SiteLayout(site="hub", sources=(source,)),
    )


async def _open_console(rig: Cluster, sites: SiteLink) -> None:
    """Create the console's durable consumer now (it keeps every later message for the end)."""
    bus = _console(rig, sites)
    await bus.start()
    try:
        await (await bus.subscribe("wk.>", durable=CONSOLE)).close()
    finally:
        await bus.close()


async def _read_console(rig: Cluster, sites: SiteLink) -> list[BusMessage]:
    """Everything the console's durable consumer holds, in delivery order."""
    bus = _console(rig, sites)
    await bus.start()
    try:
        drain = Drain(await bus.subscribe("wk.>", durable=CONSOLE))
        count = -1
        while count != len(drain.messages):
            count = len(drain.messages)
            await asyncio.sleep(2.0)
        await drain.close()
        return drain.messages
    finally:
        await bus.close()


async def _sourced(sites: SiteLink, stream: str, timeout_s: float = 30.0) -> float:
    """Seconds until the hub's stream has sourced everything the site's stream holds (lag 0, same count)."""
    began = time.monotonic()
    at_hub, at_site = await nats.connect(sites.hub.url), await nats.connect(sites.leaf.url)
    try:
        while time.monotonic() - began < timeout_s:
            site = (await at_site.jetstream().stream_info(stream)).state
            hub = await at_hub.jetstream().stream_info(stream)
            if hub.sources and hub.sources[0].lag == 0 and hub.state.messages >= site.messages:
                return time.monotonic() - began
            await asyncio.sleep(0.05)
        raise AssertionError("the hub never caught up with the site's stream")
    finally:
        await at_hub.close()
        await at_site.close()


def _in_order(messages: list[BusMessage]) -> tuple[list[EventMessage], list[SegmentMessage]]:
    events = [item for item in messages if isinstance(item, EventMessage) and item.camera_id == CAM]
    segments = [item for item in messages if isinstance(item, SegmentMessage) and item.camera_id == CAM]
    return events, segments


@pytest.mark.timeout(240)
def test_a_site_cut_off_from_the_hub_catches_up_its_alarms_once(
    sim_cameras: RtspServer, tmp_path: Path
) -> None:
    with (
        hub_and_site(tmp_path / "nats") as sites,
        rig_of(tmp_path, {CAM: sim_cameras.url(f"/{CAM}")}, segment_seconds=SEGMENT_S, incidents=True) as rig,
        TcpLink(PG_PORT) as pg,
    ):
        asyncio.run(wait_linked(sites.hub, sites.leaf))
        worker = _site_worker(rig, sites, pg)
        api = _hub_api(rig, sites)
        asyncio.run(_open_console(rig, sites))
        wait_for(lambda: worker.cameras() == [CAM], 30, "w1 to lease cam1")
        wait_for(lambda: len(rig.segments(CAM)) >= 2, 30, "two segments of cam1")
        seen_from_hub = _cluster_status(api.config_path)
        assert seen_from_hub.returncode == 0, seen_from_hub.stdout + seen_from_hub.stderr
        assert "w1" in seen_from_hub.stdout
        assert CAM in seen_from_hub.stdout

        cut_at = utcnow()
        sites.link.close()
        pg.close()
        held: list[list[str]] = []
        until = time.monotonic() + CUT_S
        while time.monotonic() < until:
            held.append(worker.cameras())
            time.sleep(1.0)
        cut_off = _cluster_status(
            api.config_path
        )  # the hub cannot read the site's leases: it says which site
        assert cut_off.returncode != 0
        assert "site site1" in cut_off.stderr, cut_off.stderr
        restored_at: datetime = utcnow()
        sites.link.reopen()
        pg.reopen()
        catch_up_s = asyncio.run(_sourced(sites, f"WKTEST_{rig.tag}"))
        wait_for(lambda: _caught_up(worker), 30, "the worker's outbox to catch up")

        assert all(cameras == [CAM] for cameras in held), held  # leases at the leaf: recording went on
        during = _events_between(rig, cut_at, restored_at)
        assert during, "no event during the cut (the footage has walkers every few seconds)"
        during_ids = {event.id for event in during}
        wait_for(lambda: bool(during_ids & set(_attached_events(api))), 30, "an incident from the cut")
        attached = _attached_events(api)
        assert len(attached) == len(set(attached)), "an event opened two incidents"
        # The hub's holder watch paused while the site's leases were unreadable (no camera shown offline).
        hub_log = api.log_text()
        assert "cannot read the camera leases: site site1" in hub_log
        assert "no worker holds it" not in hub_log

        worker.process.terminate()
        assert worker.process.wait(timeout=60) == 0
        messages = asyncio.run(_read_console(rig, sites))
        events, segments = _in_order(messages)
        print(
            f"site cut {CUT_S:.0f} s: {len(events)} events, {len(segments)} segments on the hub's console; "
            f"hub stream caught up {catch_up_s:.2f} s after the link came back"
        )

        # Every event change reached the hub's console once, in the order the site raised them.
        changes = [(item.id, item.event_state) for item in events]
        once = [change for change in changes if change[1] != "updated"]
        assert len(once) == len(set(once)), "an event change reached the hub twice"
        assert during_ids <= {item.id for item in events}
        starts = [item.start for item in events if item.event_state == "started"]
        assert starts == sorted(starts), "events out of order at the hub"
        for event_id in {item.id for item in events}:
            states = [state for item_id, state in changes if item_id == event_id]
            if "started" in states:
                assert states[0] == "started", states
            assert "ended" not in states[:-1], states

        # The cut's segments: announced once each, in order, and indexed once each.
        announced = [item.path for item in segments]
        assert len(announced) == len(set(announced)), "a segment reached the hub twice"
        for rendition in (Rendition.ORIGINAL, Rendition.PROTECTED):
            own = [item.start for item in segments if item.rendition is rendition]
            assert own == sorted(own), f"{rendition.value} segments out of order at the hub"
        store = open_store(rig.database_url)
        try:
            indexed = [item.path for item in store.segments.list(CameraId(CAM), limit=10_000, rendition=None)]
        finally:
            store.close()
        assert len(indexed) == len(set(indexed)), "a segment indexed twice"
        cut = [item for item in segments if cut_at <= item.start <= restored_at]
        assert cut, "no segment of the cut reached the hub"
        assert {item.path for item in cut} <= set(indexed)
