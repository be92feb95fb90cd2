"""A worker starts while PostgreSQL is unreachable, records, and delivers everything once it answers.

The worker's database URL goes through a TCP hop (:class:`TcpLink`) that is down when the worker starts (a
site whose WAN is down while the worker host reboots); NATS (leases, bus) is up. An API node, which needs
the store at start, reaches PostgreSQL directly; one started through the dead hop refuses to start.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.cluster.roles_support import REPO, Cluster, Worker, recording_gaps
from tests.cluster.roles_support import cluster_rig as rig_of
from tests.cluster.test_site_link import _caught_up, _files_on_disk, _health
from tests.conftest import free_port, wait_for
from tests.storage.pg import PG_PORT
from tests.support.tcp_link import TcpLink
from watchkeeper.audit.log import AuditAction
from watchkeeper.domain import CameraId, Rendition
from watchkeeper.privacy.crypto import DecryptingReader, is_encrypted
from watchkeeper.privacy.keys import FileKeyProvider, SegmentKeys
from watchkeeper.simulator import RtspServer
from watchkeeper.storage.factory import open_store

CAM = "cam1"
SEGMENT_S = 2.0
AWAY_S = 10.0
"""How long the store stays away after the worker started (several segments)."""


def _through(rig: Cluster, name: str, link: TcpLink, port: int, **cluster: object) -> Path:
    """A node configuration whose database URL goes through ``link``."""
    config = rig.config(name, port, **cluster)
    document = yaml.safe_load(config.read_text())
    document["storage"]["database_url"] = rig.database_url.replace(f":{PG_PORT}/", f":{link.port}/")
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    return config


def _serve(config: Path, role: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", "serve", "--config", str(config), "--role", role],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )


@pytest.mark.timeout(300)
def test_a_worker_starts_without_postgresql_records_and_delivers_once_it_answers(
    sim_cameras: RtspServer, tmp_path: Path
) -> None:
    with (
        rig_of(tmp_path, {CAM: sim_cameras.url(f"/{CAM}")}, segment_seconds=SEGMENT_S) as rig,
        TcpLink(PG_PORT) as link,
    ):
        link.close()  # the site link is down before anything starts

        refused = _serve(_through(rig, "api-cut", link, free_port()), "api")
        assert refused.returncode == 2, refused.stderr
        assert "Traceback" not in refused.stderr
        assert [line for line in refused.stderr.splitlines() if line.startswith("error:")], refused.stderr
        assert "cannot reach database" in refused.stderr

        port = free_port()
        config = _through(rig, "w1", link, port, worker_id="w1")
        # Without the master key file nothing can say whether encrypted recordings need the old one.
        refused = _serve(config, "worker")
        assert refused.returncode == 2, refused.stderr
        assert "Traceback" not in refused.stderr
        assert "master key file" in refused.stderr
        assert "the store is unreachable" in refused.stderr
        # The host ran before (its key file is there) and reboots while the link is down.
        FileKeyProvider.open(rig.folder / "keys" / "master.key", encrypted_data_exists=False)
        worker = Worker("w1", port, config, rig.start(config, port, "worker"))
        started = time.monotonic()
        wait_for(lambda: worker.cameras() == [CAM], 30, "w1 to lease cam1 without its store")
        wait_for(lambda: _health(worker).get("outbox_depth", 0) >= 3, 30, "segments waiting in the outbox")
        away = _health(worker)
        assert away["store_reachable"] is False
        time.sleep(max(0.0, AWAY_S - (time.monotonic() - started)))
        assert link.connections == 0

        link.reopen()
        wait_for(lambda: _caught_up(worker), 60, "the outbox to deliver once the store answers")
        log_text = worker.log_text()
        assert log_text.count("unreachable at start-up") == 1, log_text
        assert "Traceback" not in log_text
        ran = [line for line in log_text.splitlines() if "running what waited for it" in line]
        assert len(ran) == 1, log_text
        for job in ("inventory sync", "configuration audit", "retention and tiering"):
            assert job in ran[0], ran[0]

        worker.process.terminate()
        assert worker.process.wait(timeout=60) == 0
        store = open_store(rig.database_url)
        try:
            indexed = [item.path for item in store.segments.list(CameraId(CAM), limit=10_000, rendition=None)]
            originals = list(store.segments.list(CameraId(CAM), limit=10_000, rendition=Rendition.ORIGINAL))
            known = store.cameras.get(CameraId(CAM))
            audited = [record.action for record in store.audit.page(0)]
            keys = SegmentKeys(
                FileKeyProvider.open(rig.folder / "keys" / "master.key", encrypted_data_exists=True),
                store.data_keys,
            )
            for original in originals:  # sealed with a key made while the store was away, now in it
                path = rig.folder / "media" / original.path
                assert is_encrypted(path), path
                reader = DecryptingReader(path, keys.for_reading)
                reader.verify()
                reader.close()
        finally:
            store.close()
        assert known is not None, "inventory sync did not run once the store answered"
        assert AuditAction.CONFIG_CHANGE in audited, audited
        assert len(indexed) == len(set(indexed)), "a segment indexed twice"
        assert set(indexed) == _files_on_disk(rig), (sorted(_files_on_disk(rig) - set(indexed)), indexed)
        assert len(originals) >= AWAY_S / (2 * SEGMENT_S), [item.start for item in originals]
        gaps = recording_gaps(originals, after=originals[0].start)
        assert gaps
        assert max(gaps) <= SEGMENT_S, gaps
