"""HLS of the original rendition over encrypted segments: FFmpeg plays it over real HTTP under a grant, the
playlist and every segment are refused without one, and a tampered segment is reported, never served."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from datetime import timedelta

import av
import pytest

from tests.conftest import serve_in_thread
from tests.custody.conftest import CAM, T0
from tests.custody.http import Api, approve_grant, request_grant
from watchkeeper.audit.verify import all_records

RANGE = {"start": (T0 - timedelta(seconds=1)).isoformat(), "end": (T0 + timedelta(seconds=30)).isoformat()}


def _playlist_url(base: str = "") -> str:
    return f"{base}/api/cameras/{CAM}/hls.m3u8?" + urllib.parse.urlencode({**RANGE, "rendition": "original"})


@pytest.fixture
def served(api: Api) -> Iterator[str]:
    """The API of ``api`` over real HTTP (uvicorn in a thread); yields its base URL."""
    with serve_in_thread(api.app, "uvicorn-original-hls") as base:
        yield base


def test_ffmpeg_plays_the_decrypted_original_hls_under_a_grant(api: Api, served: str) -> None:
    approve_grant(api, request_grant(api)["id"])
    headers = "".join(f"{name}: {value}\r\n" for name, value in api.headers["ivy"].items())
    with av.open(_playlist_url(served), options={"headers": headers}) as container:
        stream = container.streams.video[0]
        decoder = av.CodecContext.create("h264", "r")
        decoder.extradata = stream.codec_context.extradata
        packets = [packet for packet in container.demux(stream) if packet.size > 0]
        frames = [f for packet in packets for f in decoder.decode(av.Packet(bytes(packet)))]
        frames += decoder.decode(None)
    assert sum(1 for packet in packets if packet.is_keyframe) == len(api.segments)
    assert len(frames) == 30  # the 3 s clip at 10 fps, across every encrypted segment
    assert all((frame.width, frame.height) == (320, 180) for frame in frames)
    playlist = api.client.get(_playlist_url(), headers=api.headers["ivy"]).text
    assert playlist.count("#EXT-X-MAP") == len(api.segments)
    for segment in api.segments:  # byte ranges are of the decrypted plaintext
        assert f"/api/recordings/{segment.id}/media.mp4" in playlist


def test_playlist_and_segments_are_refused_without_a_valid_grant(api: Api) -> None:
    segment_url = f"/api/recordings/{api.segments[0].id}/media.mp4"
    for who in ("ivy", "ada", "vic"):
        assert api.client.get(_playlist_url(), headers=api.headers[who]).status_code == 403
        assert api.client.get(segment_url, headers=api.headers[who]).status_code == 403
    grant = request_grant(api)
    approve_grant(api, grant["id"])
    assert api.client.get(_playlist_url(), headers=api.headers["ivy"]).status_code == 200
    api.clock.now = T0 + timedelta(hours=25)  # expired
    assert api.client.get(_playlist_url(), headers=api.headers["ivy"]).status_code == 403
    assert api.client.get(segment_url, headers=api.headers["ivy"]).status_code == 403


def test_a_tampered_segment_is_left_out_reported_and_never_served(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    approve_grant(api, request_grant(api)["id"])
    tampered, intact = api.segments[0], api.segments[1]
    path = api.media / tampered.path
    data = bytearray(path.read_bytes())
    data[len(data) - 40] ^= 0x01  # one byte flipped
    path.write_bytes(bytes(data))

    playlist = api.client.get(_playlist_url(), headers=api.headers["ivy"])
    assert playlist.status_code == 200
    assert f"/api/recordings/{tampered.id}/" not in playlist.text  # fails authentication: left out
    assert f"/api/recordings/{intact.id}/media.mp4" in playlist.text
    for url in (f"/api/recordings/{tampered.id}/media.mp4", f"/api/recordings/{tampered.id}/media"):
        for extra in ({}, {"Range": "bytes=0-99"}):
            refused = api.client.get(url, headers={**api.headers["ivy"], **extra})
            assert refused.status_code == 409
            assert refused.json()["error"]["code"] == "segment_tampered"
            assert api.plain[tampered.id or 0][:64] not in refused.content
    ranged = api.client.get(
        f"/api/recordings/{intact.id}/media.mp4", headers={**api.headers["ivy"], "Range": "bytes=0-99"}
    )
    assert ranged.status_code == 206
    assert ranged.content == api.plain[intact.id or 0][:100]
    reports = [r for r in all_records(api.store.audit) if r.action == "segment.tampered"]
    assert len(reports) == 5  # the playlist scan and each of the four refused requests
    assert {(r.actor, r.target) for r in reports} == {("system", f"file:{path.name}")}
    assert "failed authentication" in caplog.text
