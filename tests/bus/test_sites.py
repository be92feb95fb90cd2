"""Subjects of a multi-site bus and content-derived message ids (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from watchkeeper.bus.dedup import message_id
from watchkeeper.bus.errors import BusError
from watchkeeper.bus.messages import CameraStatusMessage, EventMessage, SegmentMessage
from watchkeeper.bus.sites import SiteLayout, SiteSource
from watchkeeper.domain import CameraId, CameraState, Event, EventKind, Rendition

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SITE1 = SiteSource(domain="site-1", stream="WK", site="site1")


def test_one_site_keeps_the_prefix_mapping() -> None:
    layout = SiteLayout()
    assert layout.publish_subject("wk.events.cam1", "watchkeeper") == "watchkeeper.events.cam1"
    assert layout.filter_subject("wk.events.*", "a.b") == "a.b.events.*"
    assert layout.stream_subjects("watchkeeper") == ["watchkeeper.>"]


def test_a_site_publishes_and_consumes_under_its_token() -> None:
    layout = SiteLayout(site="site1")
    assert layout.publish_subject("wk.segments.cam1", "wk1") == "wk1.site1.segments.cam1"
    assert layout.filter_subject("wk.cameras.*.status", "wk1") == "wk1.site1.cameras.*.status"
    assert layout.stream_subjects("wk1") == ["wk1.site1.>"]


def test_a_hub_with_sources_consumes_every_site_and_publishes_under_its_own_token() -> None:
    layout = SiteLayout(site="hub", sources=(SITE1,))
    assert layout.publish_subject("wk.incidents.i1", "wk1") == "wk1.hub.incidents.i1"
    assert layout.filter_subject("wk.events.*", "wk1") == "wk1.*.events.*"
    assert layout.filter_subject("wk.>", "wk1") == "wk1.*.>"
    assert layout.stream_subjects("wk1") == ["wk1.hub.>"]
    assert SITE1.api == "$JS.site-1.API"


@pytest.mark.parametrize(
    ("site", "sources", "expected"),
    [
        (None, (SITE1,), "needs this node's own site token"),
        ("site1", (SITE1,), "source site 'site1' is this node's own site token"),
        ("hub", (SITE1, SiteSource("site-2", "WK", "site1")), "source site tokens repeat: site1, site1"),
        ("hub", (SITE1, SiteSource("site-1", "WK", "site2")), "source domains repeat"),
        ("a.b", (), "site 'a.b' cannot be a subject token"),
        ("hub", (SiteSource("site>", "WK", "s"),), "source domain 'site>' cannot be a subject token"),
    ],
)
def test_bad_layouts_are_refused_in_one_line(
    site: str | None, sources: tuple[SiteSource, ...], expected: str
) -> None:
    with pytest.raises(BusError, match=expected.replace(".", r"\.")) as caught:
        SiteLayout(site=site, sources=sources)
    assert "\n" not in str(caught.value)


def _event(state: str, score: float = 0.5) -> EventMessage:
    event = Event(id="e1", camera_id=CameraId("cam1"), kind=EventKind.MOTION, start=T0, end=None, score=score)
    return EventMessage.from_domain(event, state)


def test_message_ids_come_from_content() -> None:
    segment = SegmentMessage(
        camera_id=CameraId("cam1"), start=T0, end=T0 + timedelta(seconds=2), path="cam1/a.mp4", size_bytes=1
    )
    assert message_id(segment) == "seg.cam1.original.cam1/a.mp4"
    protected = segment.model_copy(update={"rendition": Rendition.PROTECTED})
    assert message_id(protected) != message_id(segment)
    # An indexed announcement and a replayed one name the same segment.
    assert message_id(segment.model_copy(update={"segment_id": 7})) == message_id(segment)
    assert message_id(_event("started")) == "evt.e1.started"
    assert message_id(_event("ended")) == "evt.e1.ended"
    first, again, changed = _event("updated", 0.5), _event("updated", 0.5), _event("updated", 0.9)
    assert message_id(first) == message_id(again) != message_id(changed)
    status = CameraStatusMessage(camera_id=CameraId("cam1"), state=CameraState.STREAMING, since=T0)
    assert message_id(status) is None  # repeats are deliberate (see watchkeeper.bus.dedup)
