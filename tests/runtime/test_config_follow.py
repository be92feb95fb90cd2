"""ConfigFollower over the local bus: a node applies another node's edit only when its own configuration
file is the announced one, ignores its own announcements, and says in one line why it did not apply."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.conftest import write_test_config
from watchkeeper.bus.local import LocalBus
from watchkeeper.bus.messages import ConfigChangedMessage, decode, encode
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.domain import CameraId, utcnow
from watchkeeper.runtime.config_follow import ConfigFollower, announcement, file_sha256


class Applied:
    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str | None]] = []

    async def __call__(self, config: WatchkeeperConfig, camera_id: str | None) -> None:
        self.calls.append(([camera.id for camera in config.cameras], camera_id))


def _edit(path: Path, *cameras: str) -> None:
    write_test_config(path.parent, {camera: f"rtsp://127.0.0.1:8554/{camera}" for camera in cameras})


async def _settle(applied: Applied, count: int) -> None:
    for _ in range(200):
        if len(applied.calls) >= count:
            return
        await asyncio.sleep(0.01)


def test_the_announcement_round_trips_on_the_wire(tmp_path: Path) -> None:
    path = write_test_config(tmp_path, {"cam1": "rtsp://127.0.0.1:8554/cam1"})
    message = announcement("api-1", path, "camera cam1 updated", "cam1")
    assert message.subject == "wk.config.changed"
    assert decode(encode(message)) == message
    with pytest.raises(ValueError, match="sha256"):
        ConfigChangedMessage(origin="api-1", summary="x", sha256="not a digest", at=utcnow())


async def test_another_nodes_edit_of_the_same_file_is_applied_once(tmp_path: Path) -> None:
    path = write_test_config(tmp_path, {"cam1": "rtsp://127.0.0.1:8554/cam1"})
    bus = LocalBus()
    await bus.start()
    applied = Applied()
    follower = ConfigFollower(bus, "worker-1", path, applied)
    await follower.start()
    try:
        _edit(path, "cam1", "cam2")  # api-1 wrote the file every node reads
        await bus.publish(announcement("api-1", path, "camera cam2 added", "cam2"))
        await bus.publish(announcement("api-1", path, "camera cam2 added", "cam2"))  # a repeat
        await bus.publish(announcement("worker-1", path, "its own edit", None))  # its own: ignored
        await _settle(applied, 1)
        await asyncio.sleep(0.1)
        assert applied.calls == [(["cam1", "cam2"], CameraId("cam2"))]
        assert follower.applied_sha256 == file_sha256(path)
    finally:
        await follower.stop()
        await bus.close()


async def test_a_file_that_is_not_the_edited_one_or_is_invalid_is_not_applied(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    edited = write_test_config(tmp_path / "api-host", {"cam1": "rtsp://h/cam1", "cam2": "rtsp://h/cam2"})
    here = write_test_config(tmp_path / "worker-host", {"cam1": "rtsp://h/cam1"})  # a stale copy
    bus = LocalBus()
    await bus.start()
    applied = Applied()
    follower = ConfigFollower(bus, "worker-1", here, applied)
    await follower.start()
    try:
        with caplog.at_level(logging.WARNING, logger="watchkeeper.runtime.config_follow"):
            message = announcement("api-1", edited, "camera cam2 added", "cam2")
            assert await follower.follow(message) is False
            here.write_text(edited.read_text().replace("cameras:", "cameras: [", 1))  # invalid YAML
            broken = announcement("api-1", here, "camera cam2 added", "cam2")
            assert await follower.follow(broken) is False
        assert applied.calls == []
        lines = [record.getMessage() for record in caplog.records]
        assert any("is not the edited file" in line for line in lines), lines
        assert any("not applied" in line and "watchkeeper.yaml" in line for line in lines), lines
        assert all(record.exc_info is None for record in caplog.records)  # one line each, no trace
    finally:
        await follower.stop()
        await bus.close()


async def test_an_unexpected_failure_is_logged_and_later_edits_still_apply(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_test_config(tmp_path, {"cam1": "rtsp://127.0.0.1:8554/cam1"})
    bus = LocalBus()
    await bus.start()
    applied = Applied()
    failures = 0

    async def apply(config: WatchkeeperConfig, camera_id: str | None) -> None:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise RuntimeError("a bug in a part that applies the edit")
        await applied(config, camera_id)

    follower = ConfigFollower(bus, "worker-1", path, apply)
    await follower.start()
    try:
        with caplog.at_level(logging.ERROR, logger="watchkeeper.runtime.config_follow"):
            _edit(path, "cam1", "cam2")
            await bus.publish(announcement("api-1", path, "camera cam2 added", "cam2"))
            for _ in range(200):
                if failures:
                    break
                await asyncio.sleep(0.01)
            _edit(path, "cam1", "cam2", "cam3")
            await bus.publish(announcement("api-1", path, "camera cam3 added", "cam3"))
            await _settle(applied, 1)
        assert applied.calls == [(["cam1", "cam2", "cam3"], CameraId("cam3"))]
        assert any("failed to apply" in record.getMessage() for record in caplog.records)
    finally:
        await follower.stop()
        await bus.close()
