"""``media_file``: the one check every file-serving route uses."""

from __future__ import annotations

from pathlib import Path

from watchkeeper.api.files import media_file


def test_only_regular_files_inside_the_root_are_served(tmp_path: Path) -> None:
    root = tmp_path / "media"
    (root / "cam1").mkdir(parents=True)
    (root / "cam1" / "a.mp4").write_bytes(b"ok")
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    (root / "cam1" / "out.mp4").symlink_to(outside)
    (root / "cam1" / "in.mp4").symlink_to(root / "cam1" / "a.mp4")
    (root / "loop").symlink_to(root / "loop")

    assert media_file(root, "cam1/a.mp4") == (root / "cam1" / "a.mp4").resolve()
    assert media_file(root, root / "cam1" / "a.mp4") is not None
    assert media_file(root, "cam1/in.mp4") == (root / "cam1" / "a.mp4").resolve()
    for bad in (
        "cam1/out.mp4",
        "../outside.txt",
        str(outside),
        "/etc/passwd",
        "cam1",
        "loop",
        "nope.mp4",
        "\x00",
    ):
        assert media_file(root, bad) is None, bad
