"""CPU cost of the protected rendition per camera, beside the cost of recording it.

Plays vtest.avi (768x576, 10 fps, 79.5 s; re-encoded to H.264 first, keyframe every second, as a camera
would send it) once through each stage, as fast as it goes, and measures the
process CPU time (``time.process_time``, all threads) of:

* ``record``: the recorder's remux into fMP4 segments (``Segmenter``, no decode): what every camera costs;
* ``analysis_decode``: decoding every packet (the sampler must, H.264 frames depend on each other) plus the
  grey 160x120 analysis frame at 5 fps and motion detection, which runs with or without the rendition;
* ``rendition``: on top of that, ``PrivacyTap`` at the default settings: 640x480 RGB at 5 fps, redaction
  (moving regions, no detector; one downscaled blur per frame), CenterFace every ``privacy.faces.interval_s``
  while the scene moves (when ``var/models/centerface.onnx`` exists), libx264 ultrafast on one thread into
  fMP4 segments, ``latest.jpg`` once a second;
* ``rendition_no_faces``: the same without the face detector (its share of the cost);
* ``mask_originals``: the opt-in re-encode of the originals with static masks (``MaskedRecorder``: full
  decode, mask, libx264 at 768x576, 10 fps).

Each figure is CPU seconds per second of footage, i.e. the share of one core the stage needs per camera.
The rendition's own cost is ``rendition - analysis_decode``. The detector (shared, motion-gated) is left out:
it is measured by ``benchmarks/pipeline.py``.

Last line, JSON: {"record": ..., "analysis_decode": ..., "rendition": ..., "rendition_extra": ...,
"mask_originals": ..., "unit": "CPU cores per camera", "footage": "vtest.avi as H.264 768x576 10 fps"}

Usage: python benchmarks/rendition_cost.py
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av

from watchkeeper.analyzers.sampler import FrameSampler, SamplerSettings
from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.detection import DetectionConfig
from watchkeeper.config.privacy import PrivacyConfig
from watchkeeper.domain import CameraId
from watchkeeper.privacy.faces import FaceDetector
from watchkeeper.privacy.masked import MaskedRecorder
from watchkeeper.privacy.rendition import PrivacyServices, PrivacyTap, redactor_for
from watchkeeper.recorder.segmenter import Segmenter, SegmenterSettings
from watchkeeper.runtime.analysis import MotionAnalysis
from watchkeeper.sources import OpenedStream, PyAVSource, ReceivedPacket, SourceSpec

ROOT = Path(__file__).resolve().parents[1]
VTEST = ROOT / "var" / "cache" / "footage" / "vtest.avi"
FACES = ROOT / "var" / "models" / "centerface.onnx"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
CAMERA = CameraConfig.model_validate(
    {
        "id": "vtest",
        "name": "vtest",
        "site": "s",
        "inputs": [{"url": "vtest.avi", "roles": ["record", "detect"]}],
        "privacy_masks": [{"name": "corner", "polygon": [[0, 0], [0.3, 0], [0.3, 0.3], [0, 0.3]]}],
    }
)


def h264_copy(folder: Path) -> Path:
    """vtest.avi (MS-MPEG4, which MP4 cannot hold) as H.264, keyframe every second: what cameras send."""
    target = folder / "vtest-h264.mp4"
    with av.open(str(VTEST)) as source, av.open(str(target), "w") as output:
        stream = output.add_stream("libx264", rate=10, options={"preset": "veryfast", "g": "10"})
        stream.width, stream.height, stream.pix_fmt = 768, 576, "yuv420p"
        for frame in source.decode(video=0):
            frame.pts = None
            output.mux(stream.encode(frame.reformat(format="yuv420p")))
        output.mux(stream.encode(None))
    return target


def packets(opened: OpenedStream) -> Iterator[ReceivedPacket]:
    """The clip's video packets, stamped 100 ms apart."""
    for index, packet in enumerate(opened._container.demux(opened.video)):
        if packet.size:
            yield ReceivedPacket(packet=packet, received_at=T0 + timedelta(seconds=index / 10))


def measure(clip: Path, build: Callable[[Path], object]) -> tuple[float, float]:
    """(CPU seconds, footage seconds) of one consumer over the whole clip."""
    with tempfile.TemporaryDirectory(prefix="wk-rendition-cost-") as scratch:
        consumer = build(Path(scratch))
        opened = PyAVSource(SourceSpec(url=str(clip), redacted_url="vtest.mp4")).open()
        count = 0
        with opened:
            started = time.process_time()
            consumer.begin(opened)  # type: ignore[attr-defined]
            for item in packets(opened):
                consumer.write(item)  # type: ignore[attr-defined]
                count += 1
            consumer.finish()  # type: ignore[attr-defined]
            return time.process_time() - started, count / 10


class Analysis:
    """The sampler + motion chain, with or without the privacy tap (like ``build_analysis_consumer``)."""

    def __init__(self, media: Path, rendition: bool, faces: bool = True) -> None:
        detection = DetectionConfig()
        self.analysis = MotionAnalysis(CameraId("vtest"), detection, lambda change: None)
        taps = []
        self.tap = None
        if rendition:
            detector = FaceDetector(FACES) if faces and FACES.is_file() else None
            services = PrivacyServices(PrivacyConfig(), segment_seconds=10.0, faces=detector)
            self.tap = PrivacyTap(CAMERA, detection, media, services, None, lambda: self.analysis.motion_mask)
            taps.append(self.tap)
        self.sampler = FrameSampler(SamplerSettings(fps=detection.fps), self.analysis.frame, taps=taps)

    def begin(self, stream: OpenedStream) -> None:
        self.sampler.begin(stream)

    def write(self, item: ReceivedPacket) -> None:
        self.sampler.write(item)

    def finish(self) -> None:
        self.sampler.finish()
        if self.tap is not None:
            self.tap.finish()


def main() -> None:
    """Measure each stage and print the figures; the last line is JSON."""
    camera = CameraId("vtest")
    stages: dict[str, Callable[[Path], object]] = {
        "record": lambda media: Segmenter(SegmenterSettings(media, camera, 10.0), lambda segment: None),
        "analysis_decode": lambda media: Analysis(media, rendition=False),
        "rendition": lambda media: Analysis(media, rendition=True),
        "rendition_no_faces": lambda media: Analysis(media, rendition=True, faces=False),
        "mask_originals": lambda media: MaskedRecorder(
            redactor_for(CAMERA, PrivacyConfig(), (0,)), media, camera, 10.0, lambda segment: None
        ),
    }
    result: dict[str, object] = {}
    folder = Path(tempfile.mkdtemp(prefix="wk-rendition-cost-"))
    clip = h264_copy(folder)
    for name, build in stages.items():
        cpu, footage = measure(clip, build)
        result[name] = round(cpu / footage, 4)
        print(
            f"{name:16s} {cpu:7.2f} CPU s for {footage:.1f} s of footage "
            f"= {100 * cpu / footage:6.1f} % of a core"
        )
    result["rendition_extra"] = round(float(result["rendition"]) - float(result["analysis_decode"]), 4)  # type: ignore[arg-type]
    result["unit"] = "CPU cores per camera"
    result["footage"] = "vtest.avi as H.264 768x576 10 fps"
    print(json.dumps(result))


if __name__ == "__main__":
    main()
