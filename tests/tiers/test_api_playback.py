"""A running server moves segments to Swift and plays them back from there (Range, HLS), transparently."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from tests.conftest import free_port, start_server, stop_server, wait_for, write_test_config
from tests.support.swift import ACCESS_KEY, SECRET_KEY, SwiftServer
from tests.tiers.conftest import s3_settings
from watchkeeper.domain import CameraId, Rendition, Segment, StorageTier
from watchkeeper.media.s3 import S3ObjectStore
from watchkeeper.simulator import RtspServer
from watchkeeper.storage.factory import open_store

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(300)]


def _warm_protected(database_url: str) -> Segment | None:
    store = open_store(database_url)
    try:
        found = store.segments.list(CameraId("cam1"), rendition=Rendition.PROTECTED, limit=100)
    finally:
        store.close()
    return next((s for s in found if s.tier is StorageTier.WARM), None)


def test_warm_segment_plays_through_the_api_with_ranges(
    sim_cameras: RtspServer, swift: SwiftServer, tmp_path: Path
) -> None:
    port = free_port()
    bucket_name = f"wk-api-{uuid.uuid4().hex[:8]}"
    config_path = write_test_config(tmp_path, {"cam1": sim_cameras.url("/cam1")}, http_port=port)
    document = yaml.safe_load(config_path.read_text())
    document["tiers"] = {
        "enabled": True,
        "warm_after_s": 0,
        "interval_s": 1,
        "retry_base_s": 0.1,
        "warm": {
            "endpoint_url": swift.endpoint,
            "bucket": bucket_name,
            "access_key_id": ACCESS_KEY,
            "secret_access_key": SECRET_KEY,
        },
    }
    config_path.write_text(yaml.safe_dump(document, sort_keys=False))
    database_url = f"sqlite:///{tmp_path / 'data' / 'watchkeeper.db'}"
    server = start_server(config_path, port)
    try:
        segment = wait_for(lambda: _warm_protected(database_url), timeout=60, what="a warm segment")
        assert isinstance(segment, Segment)
        assert segment.object_key is not None
        assert not (tmp_path / "data" / "media" / segment.path).exists()
        stored = S3ObjectStore(s3_settings(swift, bucket_name))
        size = stored.stat(segment.object_key).size
        expected = b"".join(stored.iter_range(segment.object_key, 0, size))

        client = server.client()
        url = f"/api/recordings/{segment.id}/media.mp4"
        ranged = client.get(url, headers={"Range": "bytes=100-1099"})
        assert ranged.status_code == 206
        assert ranged.headers["content-range"] == f"bytes 100-1099/{size}"
        assert ranged.content == expected[100:1100]
        whole = client.get(url)
        assert whole.status_code == 200
        assert whole.content == expected
        download = client.get(f"/api/recordings/{segment.id}/media")  # the console's <video> URL
        assert download.status_code == 200
        assert download.content == expected
        listed = client.get("/api/recordings", params={"camera_id": "cam1", "limit": 1000})
        assert listed.status_code == 200
        tiers = {item["id"]: item["tier"] for item in listed.json()}
        assert tiers[segment.id] == "warm"  # the listing says where the bytes are
        assert set(tiers.values()) <= {"hot", "warm"}

        start = (segment.start - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
        end = (segment.end + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
        playlist = client.get("/api/cameras/cam1/hls.m3u8", params={"start": start, "end": end})
        assert playlist.status_code == 200
        assert url in playlist.text
        assert "#EXT-X-BYTERANGE" in playlist.text

        swift.stop("proxy")  # the bucket is unreachable: a typed 503, never a 500
        try:
            down = client.get(url, headers={"Range": "bytes=0-99"})
        finally:
            swift.start("proxy")
        assert down.status_code == 503
        assert down.json()["error"]["code"] == "object_store_unavailable"
    finally:
        code = stop_server(server)
    assert code == 0, server.log_text()
