"""No module of the package may grow past 600 lines: split it by responsibility instead."""

from pathlib import Path

MAX_LINES = 600


def count_lines(path: Path) -> int:
    """Lines in a file, counted like ``wc -l`` plus a last line without a newline."""
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def oversized_modules(package_dir: Path, limit: int = MAX_LINES) -> list[tuple[str, int]]:
    """Modules under ``package_dir`` longer than ``limit`` lines, longest first."""
    sizes = [
        (str(path.relative_to(package_dir.parent)), count_lines(path)) for path in package_dir.rglob("*.py")
    ]
    return sorted((item for item in sizes if item[1] > limit), key=lambda item: (-item[1], item[0]))


def test_no_module_exceeds_the_line_limit(package_dir: Path) -> None:
    offenders = oversized_modules(package_dir)
    listing = "\n".join(f"  {path}: {lines} lines" for path, lines in offenders)
    assert not offenders, f"modules over {MAX_LINES} lines (split them by responsibility):\n{listing}"


def test_the_package_has_modules_to_measure(package_dir: Path) -> None:
    assert len(list(package_dir.rglob("*.py"))) > 10


def test_the_size_check_catches_a_long_module(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "short.py").write_text("x = 1\n" * MAX_LINES)
    (package / "long.py").write_text("x = 1\n" * (MAX_LINES + 1) + "y = 2")

    assert oversized_modules(package) == [("pkg/long.py", MAX_LINES + 2)]
