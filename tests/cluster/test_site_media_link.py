"""The hub API plays a site's hot footage from that site's worker (two real ``serve`` processes).

A worker of site ``test-site`` records into its own media folder; an API node with another (empty) media
folder plays and clips that footage by fetching the files from the worker's HTTP port over links signed with
``cluster.media_secret``. A wrong or expired link gets a typed 403 from the worker; with the site's worker
gone the API answers a typed 503 with a message, never a 500.
"""

from __future__ import annotations

import io
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from tests.cluster.roles_support import NATS_URL, Cluster, cluster_rig, launch_role, log_in, wait_healthy
from tests.conftest import TEST_ADMIN_PASSWORD, LiveServer, create_user, free_port, wait_for
from watchkeeper.domain import CameraId, Rendition, Segment
from watchkeeper.media.protocol import ObjectMissingError, ObjectStoreAuthError
from watchkeeper.media.remote import SiteSegmentStore, WorkerSegmentStore
from watchkeeper.media.signing import SignedLink, sign, signature
from watchkeeper.privacy.crypto import is_encrypted
from watchkeeper.simulator import RtspServer
from watchkeeper.storage.factory import open_store

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]

SECRET = "site-media-secret-for-tests-0123456789"
SITE = "test-site"  # the site of the test configuration's cameras


def _node_config(rig: Cluster, name: str, port: int, media: Path, **cluster: object) -> Path:
    path = rig.config(name, port, NATS_URL, pin_cameras_to_sites=True, media_secret=SECRET, **cluster)
    document = yaml.safe_load(path.read_text())
    document["storage"]["media_root"] = str(media)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _protected(rig: Cluster) -> list[Segment]:
    store = open_store(rig.database_url)
    try:
        return list(store.segments.list(CameraId("cam1"), rendition=Rendition.PROTECTED, limit=1000))
    finally:
        store.close()


def _start_api(rig: Cluster, media: Path) -> LiveServer:
    port = free_port()
    config = _node_config(rig, "hub", port, media)
    create_user(config, "admin", TEST_ADMIN_PASSWORD, "admin")
    process = launch_role(config, port, "api")
    rig.processes.append(process)
    wait_healthy(process, config, port)
    return log_in(config, port, process)


@pytest.mark.slow
def test_hub_api_plays_a_sites_hot_footage_from_its_worker(sim_cameras: RtspServer, tmp_path: Path) -> None:
    site_media, hub_media = tmp_path / "site-media", tmp_path / "hub-media"
    with cluster_rig(tmp_path, {"cam1": sim_cameras.url("/cam1")}) as rig:
        worker_port = free_port()
        worker_config = _node_config(rig, "w-site", worker_port, site_media, worker_id="w-site", site=SITE)
        worker = launch_role(worker_config, worker_port, "worker")
        rig.processes.append(worker)
        wait_healthy(worker, worker_config, worker_port)
        hub = _start_api(rig, hub_media)
        worker_log = worker_config.with_suffix(".log").read_text()
        assert f"act only on the footage of the 1 camera(s) of site {SITE}" in worker_log  # scoped retention

        wait_for(lambda: len(_protected(rig)) >= 3, timeout=90, what="three protected segments indexed")
        segment = _protected(rig)[1]
        stored = (site_media / segment.path).read_bytes()
        assert not (hub_media / segment.path).exists()

        with hub.client() as client:
            whole = client.get(f"/api/recordings/{segment.id}/media.mp4")
            assert whole.status_code == 200, whole.text
            assert whole.content == stored
            ranged = client.get(
                f"/api/recordings/{segment.id}/media.mp4", headers={"Range": "bytes=100-1099"}
            )
            assert ranged.status_code == 206
            assert ranged.content == stored[100:1100]
            assert ranged.headers["content-range"] == f"bytes 100-1099/{len(stored)}"
            start, end = segment.start, segment.end + timedelta(seconds=1)
            clip = client.get(
                "/api/cameras/cam1/clip.mp4",
                params={"start": start.isoformat(), "end": end.isoformat()},
            )
            assert clip.status_code == 200, clip.text
            assert clip.headers["content-type"] == "video/mp4"
            assert len(clip.content) > 1000

        # The worker's route itself: only links signed with the cluster's secret, and not expired.
        base = f"http://127.0.0.1:{worker_port}"
        good = sign(SECRET, segment.path, time.time())
        assert httpx.get(base + good.target, timeout=10).content == stored
        forged = sign("another-secret-of-enough-length", segment.path, time.time())
        expired_at = int(time.time()) - 5
        expired = SignedLink(segment.path, expired_at, signature(SECRET, segment.path, expired_at))
        other_file = SignedLink(_protected(rig)[0].path, good.expires, good.signature)  # bound to its path
        for link in (forged, expired, other_file):
            refused = httpx.get(base + link.target, timeout=10)
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["code"] == "segment_link_refused"

        with httpx.Client(timeout=10) as client:  # the API node's reader of a site's folder, on its own
            right = SiteSegmentStore(SITE, [WorkerSegmentStore(base, SECRET, client)])
            assert right.stat(segment.path).size == len(stored)
            assert b"".join(right.iter_range(segment.path, 10, 20)) == stored[10:20]
            with pytest.raises(ObjectMissingError):
                right.stat("cam1/no-such-segment.mp4")
            wrong = SiteSegmentStore(SITE, [WorkerSegmentStore(base, "not-the-cluster-secret!", client)])
            with pytest.raises(ObjectStoreAuthError, match="refused the segment link"):
                wrong.stat(segment.path)
        # An encrypted original goes as stored (ciphertext); the API node serves it only under a grant.
        original = next(s for s in rig.segments("cam1") if (site_media / s.path).is_file())
        sealed = httpx.get(base + sign(SECRET, original.path, time.time()).target, timeout=10).content
        assert sealed == (site_media / original.path).read_bytes()
        assert is_encrypted(io.BytesIO(sealed))
        with hub.client() as client:
            refused = client.get(f"/api/recordings/{original.id}/media.mp4")
        assert refused.json()["error"]["code"] == "unmask_grant_required", refused.text
        outside = sign(SECRET, "../hub-media/secret.txt", time.time())
        assert httpx.get(base + outside.target, timeout=10).status_code == 404  # never outside its folder

        # The site's worker goes away: a typed 503 with a message, never a 500.
        worker.kill()
        worker.wait(timeout=10)
        with hub.client() as client:
            for _ in range(2):  # at once (connection refused), and after its heartbeat expired
                gone = client.get(f"/api/recordings/{segment.id}/media.mp4")
                assert gone.status_code == 503, gone.text
                assert gone.json()["error"]["code"] == "site_unavailable"
                assert (
                    SITE in gone.json()["error"]["message"] or "127.0.0.1" in gone.json()["error"]["message"]
                )
                time.sleep(4)
            clip = client.get(
                "/api/cameras/cam1/clip.mp4",
                params={"start": segment.start.isoformat(), "end": segment.end.isoformat()},
            )
            assert clip.status_code == 503, clip.text
            assert clip.json()["error"]["code"] == "site_unavailable"
