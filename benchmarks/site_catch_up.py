"""Site catch-up: how fast the hub's stream sources what a site stored while its link was cut.

Two real nats-servers of this script: a hub (JetStream domain ``hub``) and a site leaf (domain ``site1``)
whose leaf connection goes through a TCP hop. A site ``NatsBus`` publishes into the site stream, a hub
``NatsBus`` owns the hub stream that sources it (the production layout, ``storage.bus.site`` / ``sources``).
The hop is closed, N messages (events and segments of C cameras, as a site produces them) are published at
the site, the hop is reopened, and the time until the hub's stream holds all of them is measured, split into
the leaf reconnecting (first sourced message) and the transfer. Baseline from the same run: the same
messages published straight into the hub's own stream by a hub node (one acknowledged publish each, as
workers do).

Last line, one JSON object: ``{"messages", "cameras", "site_publish_s", "reconnect_s", "transfer_s",
"catch_up_s", "catch_up_msgs_per_s", "direct_s", "direct_msgs_per_s", "duplicates", "load_1m"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nats  # noqa: E402
from nats.aio.client import Client  # noqa: E402

from tests.support.nats_sites import SiteLink, hub_and_site, wait_linked  # noqa: E402
from watchkeeper.bus.messages import BusMessage, EventMessage, SegmentMessage  # noqa: E402
from watchkeeper.bus.nats import NatsBus, NatsTuning  # noqa: E402
from watchkeeper.bus.sites import SiteLayout, SiteSource  # noqa: E402
from watchkeeper.domain import CameraId, Event, EventKind, Rendition  # noqa: E402

T0 = datetime(2026, 12, 6, tzinfo=UTC)
PREFIX = "wkb"
STREAM = "WKBENCH"
TUNING = NatsTuning(max_msgs=10_000_000, max_bytes=8 << 30)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000, help="messages published during the cut")
    parser.add_argument("--cameras", type=int, default=100, help="cameras the messages belong to")
    parser.add_argument("--quick", action="store_true", help="2,000 messages")
    args = parser.parse_args(argv)
    if args.quick:
        args.messages = 2_000
    return args


def traffic(count: int, cameras: int, tag: str) -> list[BusMessage]:
    """Segment announcements of both renditions and an event start for every 5th message, per camera."""
    messages: list[BusMessage] = []
    for number in range(count):
        camera = CameraId(f"cam{number % cameras}")
        start = T0 + timedelta(seconds=2 * (number // cameras))
        if number % 5 == 4:
            event = Event(f"{tag}-{number}", camera, EventKind.MOTION, start, None, 0.5)
            messages.append(EventMessage.from_domain(event, "started"))
            continue
        rendition = Rendition.PROTECTED if number % 2 else Rendition.ORIGINAL
        path = f"{camera}/{tag}/{rendition.value}/{number:08d}.mp4"
        end = start + timedelta(seconds=2)
        messages.append(SegmentMessage(camera_id=camera, start=start, end=end, path=path, size_bytes=1))
    return messages


async def stored(client: Client, stream: str) -> int:
    """Messages in ``stream`` now."""
    return int((await client.jetstream().stream_info(stream)).state.messages)


async def measure(sites: SiteLink, args: argparse.Namespace) -> dict[str, float | int]:
    """Cut, publish at the site, restore, time the hub's catch-up; then the direct baseline."""
    await wait_linked(sites.hub, sites.leaf)
    site = NatsBus(
        sites.leaf.url, stream=STREAM, subject_prefix=PREFIX, tuning=TUNING, layout=SiteLayout("site1")
    )
    source = SiteSource(domain="site1", stream=STREAM, site="site1")
    layout = SiteLayout(site="hub", sources=(source,))
    hub = NatsBus(sites.hub.url, stream=STREAM, subject_prefix=PREFIX, tuning=TUNING, layout=layout)
    await site.start()
    await hub.start()
    at_hub = await nats.connect(sites.hub.url)
    try:
        sites.link.close()
        began = time.monotonic()
        for message in traffic(args.messages, args.cameras, "cut"):
            await site.publish(message)
        site_publish_s = time.monotonic() - began
        before = await stored(at_hub, STREAM)

        restored = time.monotonic()
        sites.link.reopen()
        first = 0.0
        while (count := await stored(at_hub, STREAM)) < before + args.messages:
            if not first and count > before:
                first = time.monotonic() - restored
            await asyncio.sleep(0.01)
        catch_up_s = time.monotonic() - restored
        await asyncio.sleep(1.0)
        duplicates = await stored(at_hub, STREAM) - before - args.messages

        began = time.monotonic()
        for message in traffic(args.messages, args.cameras, "direct"):
            await hub.publish(message)
        direct_s = time.monotonic() - began
    finally:
        await at_hub.close()
        await hub.close()
        await site.close()
    transfer_s = catch_up_s - first
    return {
        "messages": args.messages,
        "cameras": args.cameras,
        "site_publish_s": round(site_publish_s, 2),
        "reconnect_s": round(first, 2),
        "transfer_s": round(transfer_s, 2),
        "catch_up_s": round(catch_up_s, 2),
        "catch_up_msgs_per_s": round(args.messages / transfer_s) if transfer_s > 0 else 0,
        "direct_s": round(direct_s, 2),
        "direct_msgs_per_s": round(args.messages / direct_s),
        "duplicates": duplicates,
        "load_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> None:
    """Run once and print the figures, then one JSON line."""
    args = parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="wk-site-catch-up-") as folder,
        hub_and_site(Path(folder)) as sites,
    ):
        result = asyncio.run(measure(sites, args))
    print(
        f"{result['messages']} messages stored at the site during the cut ({result['site_publish_s']} s); "
        f"hub caught up {result['catch_up_s']} s after the link came back (leaf reconnect "
        f"{result['reconnect_s']} s, transfer {result['transfer_s']} s, {result['catch_up_msgs_per_s']}/s); "
        f"baseline: a hub node publishing them {result['direct_s']} s ({result['direct_msgs_per_s']}/s); "
        f"duplicates {result['duplicates']}; load {result['load_1m']}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
