"""``kill -9`` of a real ``watchkeeper serve`` mid-segment, then a restart: recovery repairs everything."""

from __future__ import annotations

import re
import signal
from pathlib import Path

from tests.conftest import free_port, start_server, stop_server, wait_for, write_test_config
from watchkeeper.domain import CameraId
from watchkeeper.recorder.recovery import recover_media
from watchkeeper.simulator import RtspServer
from watchkeeper.storage.factory import open_store


def _index_paths(db_url: str) -> set[str]:
    store = open_store(db_url)
    try:
        return {
            s.path
            for camera in ("cam1", "cam2")
            for s in store.segments.list(CameraId(camera), limit=10_000, rendition=None)  # both renditions
        }
    finally:
        store.close()


def _complete_files(media: Path) -> set[str]:
    return {
        p.relative_to(media).as_posix()
        for p in media.rglob("*.mp4")
        if ".quarantine" not in p.parts and not p.name.startswith(".")
    }


def test_kill_9_mid_segment_loses_at_most_the_in_flight_segment(
    sim_cameras: RtspServer, tmp_path: Path
) -> None:
    port = free_port()
    urls = {"cam1": sim_cameras.url("/cam1"), "cam2": sim_cameras.url("/cam2")}
    config = write_test_config(tmp_path, urls, http_port=port)
    media = tmp_path / "data" / "media"
    db_url = f"sqlite:///{tmp_path / 'data' / 'watchkeeper.db'}"

    server = start_server(config, port)
    try:
        wait_for(lambda: len(_index_paths(db_url)) >= 4, timeout=30, what="a few indexed segments")
        wait_for(lambda: list(media.rglob(".*.mp4.part")), timeout=10, what="a segment being written")
    finally:
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)

    partials = {p.relative_to(media).as_posix() for p in media.rglob(".*.mp4.part")}
    complete_at_kill = _complete_files(media)
    assert partials, "the kill should have interrupted a segment"
    assert complete_at_kill

    restarted = start_server(config, port)
    try:
        log_text = wait_for(
            lambda: "recovery:" in restarted.log_text() and restarted.log_text(),
            timeout=20,
            what="the recovery report in the log",
        )
        assert isinstance(log_text, str)
        match = re.search(
            r"recovery: (\d+) partial segment\(s\) quarantined, (\d+) row\(s\) without", log_text
        )
        assert match is not None, log_text
        assert int(match.group(1)) == len(partials)
        # every segment complete at the kill is indexed (re-indexed if its row was lost), none is missing
        assert complete_at_kill <= _index_paths(db_url)
        wait_for(
            lambda: _index_paths(db_url) - complete_at_kill,
            timeout=20,
            what="recording to continue after the restart",
        )
    finally:
        stop_server(restarted)

    quarantined = {p.name for p in (media / ".quarantine").iterdir()}
    assert {name.replace("/", "_") for name in partials} <= quarantined
    assert _index_paths(db_url) <= _complete_files(media), "index rows point to missing files"
    # The next start-up's recovery leaves index and files in exact agreement.
    store = open_store(db_url)
    try:
        recover_media(store, media)
    finally:
        store.close()
    assert _index_paths(db_url) == _complete_files(media), "index and files disagree after recovery"
    assert not list(media.rglob(".*.mp4.part"))
