"""Playback endpoints over a real store and real segment files: HLS, clips, timeline, typed errors."""

from __future__ import annotations

import io
import urllib.parse
from datetime import datetime, timedelta

import av
import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import LIVE_AGE_S, PlaybackSetup
from tests.recorder.playback_footage import T0
from watchkeeper.domain import utcnow


def _q(start: datetime | str, end: datetime | str | None = None, **extra: object) -> str:
    params: dict[str, object] = {"start": start if isinstance(start, str) else start.isoformat(), **extra}
    if end is not None:
        params["end"] = end if isinstance(end, str) else end.isoformat()
    return urllib.parse.urlencode(params)


def _s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    return str(body["error"]["message"])


# -- HLS ------------------------------------------------------------------------------------------------


def test_closed_range_is_a_vod_playlist_of_the_overlapping_segments(client: TestClient) -> None:
    response = client.get(f"/api/cameras/cam1/hls.m3u8?{_q(_s(1.5), _s(4.5))}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    text = response.text
    assert text.count("#EXTINF:") == 4  # segments starting at 1, 2, 3 and 4 s
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text
    assert text.rstrip().endswith("#EXT-X-ENDLIST")
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:01.000Z" in text


def test_open_range_is_an_event_playlist_up_to_now(client: TestClient) -> None:
    response = client.get(f"/api/cameras/cam3/hls.m3u8?{_q(utcnow() - timedelta(seconds=LIVE_AGE_S + 60))}")
    assert response.status_code == 200
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in response.text
    assert "#EXT-X-ENDLIST" not in response.text
    assert response.text.count("#EXTINF:") == 6


def test_segment_media_urls_serve_byte_ranges(client: TestClient, playback_setup: PlaybackSetup) -> None:
    segment = playback_setup.segments[0]
    response = client.get(f"/api/recordings/{segment.id}/media.mp4", headers={"Range": "bytes=0-7"})
    assert response.status_code == 206
    assert response.content[4:8] == b"ftyp"
    _error(client.get("/api/recordings/999999/media.mp4"), 404, "not_found")


def test_ffmpeg_reads_the_playlist_from_a_live_server_across_segments(
    api_server: str, playback_setup: PlaybackSetup
) -> None:
    url = f"{api_server}/api/cameras/cam1/hls.m3u8?{_q(_s(0), _s(4))}"
    # FFmpeg's HLS demuxer sends these headers with the playlist and every segment request.
    headers = "".join(f"{name}: {value}\r\n" for name, value in playback_setup.headers.items())
    with av.open(url, options={"headers": headers}) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (320, 180)
        # FFmpeg's HLS demuxer feeds every fragment to one MP4 demuxer, which flags the fragments of the
        # 2nd+ file as overlapping (their timestamps restart at 0, as the discontinuity says); decode
        # the packets it fetched with a fresh decoder to prove every byte range is right.
        decoder = av.CodecContext.create("h264", "r")
        decoder.extradata = stream.codec_context.extradata
        packets = [packet for packet in container.demux(stream) if packet.size > 0]
        frames = [f for packet in packets for f in decoder.decode(av.Packet(bytes(packet)))]
        frames += decoder.decode(None)
    assert sum(1 for packet in packets if packet.is_keyframe) == 4
    assert len(frames) == 40
    assert all(frame.width == 320 for frame in frames)


# -- clips ----------------------------------------------------------------------------------------------


def test_clip_is_one_mp4_with_exact_times(client: TestClient, playback_setup: PlaybackSetup) -> None:
    response = client.get(f"/api/cameras/cam1/clip.mp4?{_q(_s(1.5), _s(4.25))}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["x-clip-start"] == "2026-11-25T12:00:01.000Z"
    assert response.headers["x-clip-end"] == "2026-11-25T12:00:04.300Z"
    assert 'filename="cam1-20261125T120001Z.mp4"' in response.headers["content-disposition"]
    with av.open(io.BytesIO(response.content)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 33
    assert frames[-1].time == pytest.approx(3.2)
    assert not list((playback_setup.context.media_root / ".clips").glob("*.mp4"))  # temp file removed


def test_clip_errors_are_typed(client: TestClient) -> None:
    assert "no footage" in _error(
        client.get(f"/api/cameras/cam1/clip.mp4?{_q(_s(8), _s(15))}"), 404, "no_footage"
    )
    _error(client.get(f"/api/cameras/cam1/clip.mp4?{_q(_s(0), _s(3601))}"), 400, "range_too_long")
    _error(client.get(f"/api/cameras/cam1/clip.mp4?{_q(_s(0))}"), 422, "invalid_request")  # end required


# -- timeline -------------------------------------------------------------------------------------------


def test_timeline_shows_spans_gaps_and_events(client: TestClient) -> None:
    response = client.get(f"/api/cameras/cam1/timeline?{_q(_s(0), _s(60), resolution_s=1)}")
    assert response.status_code == 200
    body = response.json()
    spans = [(item["start"], item["end"], item["segments"]) for item in body["recorded"]]
    assert spans == [
        ("2026-11-25T12:00:00Z", "2026-11-25T12:00:06Z", 6),
        ("2026-11-25T12:00:20Z", "2026-11-25T12:00:26Z", 6),
    ]
    assert [(gap["start"], gap["end"]) for gap in body["gaps"]] == [
        ("2026-11-25T12:00:06Z", "2026-11-25T12:00:20Z"),
        ("2026-11-25T12:00:26Z", "2026-11-25T12:01:00Z"),
    ]
    assert body["recorded_s"] == 12
    assert [event["id"] for event in body["events"]] == ["ev-1"]
    assert body["events_truncated"] is False


def test_timeline_at_coarse_resolution_merges_the_gap(client: TestClient) -> None:
    body = client.get(f"/api/cameras/cam1/timeline?{_q(_s(0), _s(60), resolution_s=20)}").json()
    assert len(body["recorded"]) == 1
    assert body["recorded"][0]["segments"] == 12
    assert body["gaps"] == [{"start": "2026-11-25T12:00:26Z", "end": "2026-11-25T12:01:00Z"}]


def test_multi_day_timeline_uses_a_default_resolution(client: TestClient) -> None:
    body = client.get(f"/api/cameras/cam1/timeline?{_q(_s(-86400), _s(2 * 86400))}").json()
    assert body["resolution_s"] == pytest.approx(259.2)
    assert len(body["recorded"]) == 1


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/cameras/nope/timeline?{r}", 404, "not_found"),
        ("/api/cameras/nope/hls.m3u8?{r}", 404, "not_found"),
        ("/api/cameras/nope/clip.mp4?{r}", 404, "not_found"),
        ("/api/cameras/nope/latest.jpg", 404, "not_found"),
        ("/api/cameras/cam2/hls.m3u8?{r}", 404, "no_footage"),
        (
            "/api/cameras/cam1/timeline?start=2026-11-25T12:00:00&end=2026-11-25T13:00:00Z",
            400,
            "invalid_request",
        ),
        (
            "/api/cameras/cam1/hls.m3u8?start=2026-11-25T12:00:00Z&end=2026-11-25T12:00:00",
            400,
            "invalid_request",
        ),
        (
            "/api/cameras/cam1/clip.mp4?start=2026-11-25T12:00:10Z&end=2026-11-25T12:00:00Z",
            400,
            "invalid_request",
        ),
        (
            "/api/cameras/cam1/timeline?start=2026-11-25T12:00:00Z&end=2026-11-25T12:00:00Z",
            400,
            "invalid_request",
        ),
        (
            "/api/cameras/cam1/timeline?start=1970-01-01T00:00:00Z&end=1970-01-02T00:00:00Z",
            400,
            "invalid_request",
        ),
        (
            "/api/cameras/cam1/timeline?start=2026-01-01T00:00:00Z&end=2026-12-01T00:00:00Z",
            400,
            "range_too_long",
        ),
        (
            "/api/cameras/cam1/hls.m3u8?start=2026-11-20T00:00:00Z&end=2026-11-25T00:00:00Z",
            400,
            "range_too_long",
        ),
        ("/api/cameras/cam1/timeline?{r}&resolution_s=0.01", 400, "range_too_long"),
        ("/api/cameras/cam1/timeline?{r}&resolution_s=-1", 422, "invalid_request"),
        ("/api/cameras/cam1/timeline?start=yesterday&end=2026-11-25T12:00:00Z", 422, "invalid_request"),
        ("/api/cameras/cam1/hls.m3u8", 422, "invalid_request"),
    ],
)
def test_bad_requests_get_typed_errors(client: TestClient, path: str, status: int, code: str) -> None:
    response = client.get(path.format(r=_q(_s(0), _s(600))))
    _error(response, status, code)


def test_playback_needs_credentials(api_server: str) -> None:
    for path in ("hls.m3u8", "clip.mp4", "timeline"):
        response = httpx.get(f"{api_server}/api/cameras/cam1/{path}?{_q(_s(0), _s(4))}", timeout=10)
        assert response.status_code == 401
        assert "error" in response.json()


def test_endpoints_are_in_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("hls.m3u8", "clip.mp4", "timeline", "latest.jpg"):
        assert f"/api/cameras/{{camera_id}}/{path}" in paths
    assert "/api/recordings/{segment_id}/media.mp4" in paths
