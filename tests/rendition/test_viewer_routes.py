"""Every viewer route serves the protected rendition by default; no original without a grant."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest
from fastapi.testclient import TestClient

from tests.auth.support import fast_passwords, user_token
from tests.conftest import TEST_FOOTAGE
from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.auth.models import RoleGrant
from watchkeeper.bus.local import LocalBus
from watchkeeper.config.server import RateLimitConfig, ServerConfig
from watchkeeper.domain import Camera, CameraId, Rendition, Segment, Site, SiteId
from watchkeeper.privacy.encoder import EncoderSettings, SegmentEncoder
from watchkeeper.recorder.segmenter import Segmenter, SegmenterSettings
from watchkeeper.simulator import write_mp4
from watchkeeper.sources import PyAVSource, ReceivedPacket, SourceSpec
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store

CAM = CameraId("cam1")
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PROTECTED_WIDTH = 160


@dataclass
class Viewer:
    client: TestClient
    headers: dict[str, str]
    originals: list[Segment]
    protected: list[Segment]


def _record(clip: Path, media: Path) -> tuple[list[Segment], list[Segment]]:
    """Record ``clip`` as originals (remuxed) and a protected rendition cut at the same boundaries."""
    originals: list[Segment] = []
    protected: list[Segment] = []
    encoder = SegmentEncoder(EncoderSettings(media, CAM, segment_seconds=1.0, fps=10), protected.append)

    def written(segment: Segment) -> None:
        originals.append(segment)
        encoder.cut(segment.end)

    segmenter = Segmenter(SegmenterSettings(media, CAM, 1.0), written)
    opened = PyAVSource(SourceSpec(url=str(clip), redacted_url="clip.mp4")).open()
    with opened:
        segmenter.begin(opened)
        decoder = opened.video.codec_context
        for index, packet in enumerate(opened._container.demux(opened.video)):
            if packet.size == 0:
                continue
            at = T0 + timedelta(seconds=index / TEST_FOOTAGE.fps)
            for frame in decoder.decode(packet):
                small = frame.reformat(width=PROTECTED_WIDTH, height=90, format="rgb24").to_ndarray()
                encoder.write(small, at)
            segmenter.write(ReceivedPacket(packet=packet, received_at=at))
        segmenter.finish()
        encoder.finish()
    return originals, protected


@pytest.fixture
def viewer(tmp_path: Path) -> Iterator[Viewer]:
    clip = write_mp4(replace(TEST_FOOTAGE, duration_s=3.0), tmp_path / "clip.mp4")
    media = tmp_path / "media"
    store: Store = open_store(f"sqlite:///{tmp_path / 'wk.db'}")
    store.sites.upsert(Site(SiteId("s"), "Site"))
    store.cameras.upsert(Camera(CAM, "Cam 1", SiteId("s")))
    originals, protected = _record(clip, media)
    originals = [store.segments.add(segment) for segment in originals]
    protected = [store.segments.add(segment) for segment in protected]
    (media / CAM / "latest.jpg").write_bytes(b"\xff\xd8redacted\xff\xd9")
    context = AppContext(
        store=store,
        bus=LocalBus(),
        media_root=media,
        statuses=StatusBoard([CAM]),
        hub=LiveHub(),
        passwords=fast_passwords(),
    )
    app = create_app(context, ServerConfig(rate_limits=RateLimitConfig(enabled=False)))
    headers = {"Authorization": f"Bearer {user_token(store, 'vic', RoleGrant('admin'))}"}
    yield Viewer(TestClient(app), headers, originals, protected)
    store.close()


def _range() -> dict[str, str]:
    return {"start": (T0 - timedelta(seconds=5)).isoformat(), "end": (T0 + timedelta(seconds=30)).isoformat()}


def test_the_index_holds_both_renditions(viewer: Viewer) -> None:
    assert len(viewer.originals) >= 2
    assert len(viewer.protected) >= 2
    assert {s.rendition for s in viewer.originals} == {Rendition.ORIGINAL}
    assert {s.rendition for s in viewer.protected} == {Rendition.PROTECTED}


def test_every_viewer_route_serves_protected_media_by_default(viewer: Viewer, tmp_path: Path) -> None:
    get = viewer.client.get
    protected_ids = {s.id for s in viewer.protected}
    original_ids = {s.id for s in viewer.originals}

    listing = get("/api/recordings", params={"camera_id": CAM}, headers=viewer.headers)
    assert listing.status_code == 200
    assert {item["id"] for item in listing.json()} == protected_ids

    playlist = get(f"/api/cameras/{CAM}/hls.m3u8", params=_range(), headers=viewer.headers)
    assert playlist.status_code == 200
    uris = [line for line in playlist.text.splitlines() if line.startswith("/api/recordings/")]
    assert uris
    assert {int(uri.split("/")[3]) for uri in uris} <= protected_ids
    for uri in uris:
        media = get(uri, headers=viewer.headers)
        assert media.status_code == 200

    for segment in viewer.protected:
        for route in (f"/api/recordings/{segment.id}/media", f"/api/recordings/{segment.id}/media.mp4"):
            response = get(route, headers=viewer.headers)
            assert response.status_code == 200
            assert response.content[:64] == (tmp_path / "media" / segment.path).read_bytes()[:64]

    for segment_id in original_ids:  # no grant (no grant service at all): never served
        for route in (f"/api/recordings/{segment_id}/media", f"/api/recordings/{segment_id}/media.mp4"):
            assert get(route, headers=viewer.headers).status_code in (403, 404, 503)

    clip = get(f"/api/cameras/{CAM}/clip.mp4", params=_range(), headers=viewer.headers)
    assert clip.status_code == 200, clip.text
    clip_path = tmp_path / "clip-out.mp4"
    clip_path.write_bytes(clip.content)
    with av.open(str(clip_path)) as container:
        assert container.streams.video[0].codec_context.width == PROTECTED_WIDTH

    timeline = get(f"/api/cameras/{CAM}/timeline", params=_range(), headers=viewer.headers)
    assert timeline.status_code == 200
    assert timeline.json()["recorded"]  # spans of the protected rendition

    snapshot = get(f"/api/cameras/{CAM}/latest.jpg", headers=viewer.headers)
    assert snapshot.status_code == 200
    assert snapshot.content == b"\xff\xd8redacted\xff\xd9"


def test_originals_are_refused_without_a_grant_on_hls_and_clip(viewer: Viewer) -> None:
    for route in (f"/api/cameras/{CAM}/hls.m3u8", f"/api/cameras/{CAM}/clip.mp4"):
        response = viewer.client.get(
            route, params={**_range(), "rendition": "original"}, headers=viewer.headers
        )
        assert response.status_code in (403, 503), response.text
    bad = viewer.client.get(
        f"/api/cameras/{CAM}/hls.m3u8", params={**_range(), "rendition": "x"}, headers=viewer.headers
    )
    assert bad.status_code in (400, 422)
