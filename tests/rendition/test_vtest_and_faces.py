"""On real footage (vtest.avi): the rendition path blurs every labelled person; the face detector gives
boxes only (the red line: no landmarks, crops or embeddings are kept)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest
import yaml

from tests.analyzers.detect.conftest import ROOT, VTEST, require_file
from tests.conftest import write_test_config
from watchkeeper.analyzers.detect import build_detector, builtin_model_path
from watchkeeper.analyzers.detect.registry import MODEL_DIR_ENV
from watchkeeper.analyzers.event_snapshots import EventSnapshotStore
from watchkeeper.analyzers.scheduler import DetectorService
from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.detection import DetectionConfig
from watchkeeper.config.loader import load_config
from watchkeeper.config.privacy import PrivacyConfig
from watchkeeper.privacy import PersonBlur
from watchkeeper.privacy import faces as face_module
from watchkeeper.privacy.faces import FaceDetector, FaceModelError
from watchkeeper.privacy.rendition import PrivacyServices, PrivacyTap
from watchkeeper.runtime.analysis import MotionAnalysis, ObjectTap
from watchkeeper.runtime.objects import AnalysisServices, ObjectAnalysis
from watchkeeper.runtime.wiring import build_privacy_services

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LABELS = ROOT / "benchmarks" / "data" / "vtest_labels.json"
FACES = ROOT / "var" / "models" / "centerface.onnx"
CAMERA = CameraConfig.model_validate(
    {"id": "vtest", "name": "vtest", "site": "s", "inputs": [{"url": "v.avi", "roles": ["record", "detect"]}]}
)


def _local_std(grey: np.ndarray) -> np.ndarray:
    padded = np.pad(grey, 2, mode="edge")
    return np.lib.stride_tricks.sliding_window_view(padded, (5, 5)).std(axis=(2, 3))


def test_labelled_people_are_blurred_in_the_rendition(tmp_path: Path) -> None:
    require_file(VTEST, "test footage")
    detection = DetectionConfig()
    require_file(builtin_model_path(), "the built-in detector model")
    service = DetectorService(build_detector(detection.detector.model_copy(update={"threads": 2})))
    privacy = PrivacyConfig.model_validate({"faces": {"enabled": False}})
    services = AnalysisServices(service, PersonBlur(), privacy=PrivacyServices(privacy, segment_seconds=2.0))
    objects = ObjectAnalysis(CAMERA, detection, services, EventSnapshotStore(tmp_path), lambda change: None)
    analysis = MotionAnalysis(objects.camera_id, detection, lambda change: None, objects)
    assert services.privacy is not None
    tap = PrivacyTap(CAMERA, detection, tmp_path, services.privacy, objects, lambda: analysis.motion_mask)
    seen: dict[datetime, tuple[np.ndarray, np.ndarray]] = {}
    tap.observe(lambda raw, red, at: seen.__setitem__(at, (raw, red)))
    with av.open(str(VTEST)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index > 40:
                break
            if index % 2:
                continue
            at = T0 + timedelta(seconds=index / 10)
            analysis.frame(frame.reformat(width=160, height=120, format="gray").to_ndarray(), at)
            for each in (ObjectTap(objects), tap):
                if each.due(at):
                    each.take(frame, at)
            service.run_once()
    tap.finish()
    raw, redacted = seen[T0 + timedelta(seconds=4)]  # frame 40, hand-labelled
    people = [b["xyxy"] for b in json.loads(LABELS.read_text())["frames"]["40"] if b["class"] == "person"]
    assert len(people) >= 5
    scale = raw.shape[1] / 768
    for box in people:
        x1, y1, x2, y2 = (round(v * scale) for v in box)
        before = _local_std(raw[y1:y2, x1:x2].mean(axis=2))
        after = _local_std(redacted[y1:y2, x1:x2].mean(axis=2))
        textured = before >= 4
        assert ((after <= 0.5 * before) & textured).sum() >= 0.95 * textured.sum(), box
    segments = sorted((tmp_path / "vtest" / "protected").rglob("*.mp4"))
    assert segments  # the rendition was written and decodes
    with av.open(str(segments[0])) as container:
        assert sum(1 for _ in container.decode(video=0)) >= 5
    assert (tmp_path / "vtest" / "latest.jpg").is_file()


def test_face_detector_returns_boxes_only() -> None:
    require_file(FACES, "the face model")
    require_file(VTEST, "test footage")
    faces = FaceDetector(FACES, threshold=0.4)
    with av.open(str(VTEST)) as container:
        frame = next(f for i, f in enumerate(container.decode(video=0)) if i == 200)
    boxes = faces.detect(frame.to_ndarray(format="rgb24"))
    assert boxes.dtype == np.float32
    assert boxes.ndim == 2
    assert boxes.shape[1] == 4
    assert len(boxes) >= 1  # a walker's face near (633, 269) at full size
    assert ((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])).all()
    # the red line: the model's landmark output is never requested, nothing but the session is kept
    requested = {face_module._HEATMAP, face_module._SCALE, face_module._OFFSET}
    landmarks = "540"
    assert landmarks in {o.name for o in faces._session.get_outputs()}
    assert landmarks not in requested
    assert set(vars(faces)) == {"_session", "_threshold"}
    assert faces.detect(np.zeros((50, 70, 3), dtype=np.uint8)).shape == (0, 4)
    with pytest.raises(ValueError, match="uint8"):
        faces.detect(np.zeros((10, 10), dtype=np.uint8))


def test_missing_face_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FaceModelError, match="build_models"):
        FaceDetector(tmp_path / "nope.onnx")


def test_the_default_face_model_is_found_whatever_folder_the_config_lives_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_file(FACES, "make models")
    config_path = write_test_config(tmp_path / "elsewhere", {"cam1": "rtsp://127.0.0.1:1/cam1"})
    config = load_config(config_path)
    assert config.privacy.faces.model is None  # the built-in model, not a path next to the config
    services = build_privacy_services(config)
    assert isinstance(services.faces, FaceDetector)

    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path / "no-models-here"))
    assert build_privacy_services(config).faces is None  # missing model: warned, faces not blurred

    document = yaml.safe_load(config_path.read_text())
    document["privacy"] = {"faces": {"model": "models/face.onnx"}}
    config_path.write_text(yaml.safe_dump(document))
    relative = load_config(config_path)
    assert relative.privacy.faces.model == config_path.parent / "models" / "face.onnx"
