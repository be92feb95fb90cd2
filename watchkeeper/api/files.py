"""Serving files from the media root without ever leaving it (``..``, absolute paths, symlinks)."""

from __future__ import annotations

from pathlib import Path


def media_file(root: Path, path: str | Path) -> Path | None:
    """The regular file at ``path`` (relative to ``root``, or absolute) when it really lies inside ``root``.

    Symlinks are followed before the check, so a link inside the media root that points outside it is
    refused like ``../..`` or an absolute path elsewhere.

    Args:
        root: The media root.
        path: A path from the index (relative) or built by the server (absolute).

    Returns:
        The resolved path, or ``None`` when it leaves ``root``, does not exist or is not a regular file.
    """
    base = root.resolve()
    try:
        candidate = (base / path).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    return candidate
