"""Camera worker settings from the test configuration, for tests that run a real ``CameraWorker``."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write_test_config
from watchkeeper.config.loader import load_config
from watchkeeper.config.recording import RecordingConfig
from watchkeeper.runtime.camera_worker import WorkerSettings


def worker_settings(
    folder: Path, url: str, camera: str = "cam1", recording: RecordingConfig | None = None
) -> WorkerSettings:
    """A worker's settings for ``camera`` at ``url``, from the test configuration written in ``folder``.

    Media goes to the configuration's media root (under ``folder``); ``recording`` replaces the
    configuration's recording section when given.
    """
    config = load_config(write_test_config(folder, {camera: url}))
    return WorkerSettings(
        camera=config.cameras[0],
        recording=recording or config.recording,
        detection=config.detection,
        media_root=config.storage.media_root,
    )
