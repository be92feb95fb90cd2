"""Anchors: the audit chain head, written now and then to an append-only file outside the database.

Deleting the newest records (truncation) leaves a chain that is consistent in itself; the anchor file
still names a later head, which is how ``verify_chain`` notices.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from watchkeeper.domain import WatchkeeperError
from watchkeeper.domain.custody import AuditRecord
from watchkeeper.storage.custody import AuditRepository

log = logging.getLogger(__name__)


class AnchorFileError(WatchkeeperError):
    """The anchor file cannot be read or written, or a line is damaged."""

    code = "audit_anchor"


@dataclass(frozen=True, slots=True)
class Anchor:
    """The chain head at one moment."""

    seq: int
    hash: str
    at: datetime


class AnchorFile:
    """An append-only file of anchors, one JSON line each."""

    def __init__(self, path: Path) -> None:
        """Use ``path`` (created on first write, mode 0600)."""
        self._path = path

    @property
    def path(self) -> Path:
        """The file."""
        return self._path

    def append(self, head: AuditRecord) -> Anchor:
        """Write an anchor for ``head`` (fsynced)."""
        anchor = Anchor(head.seq, head.hash, head.at)
        line = json.dumps({"seq": anchor.seq, "hash": anchor.hash, "at": anchor.at.isoformat()}) + "\n"
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as err:
            raise AnchorFileError(f"cannot write audit anchor file {self._path}: {err.strerror}") from err
        return anchor

    def read(self) -> list[Anchor]:
        """Every anchor, oldest first (none when the file does not exist)."""
        if not self._path.exists():
            return []
        anchors = []
        try:
            lines = self._path.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise AnchorFileError(f"cannot read audit anchor file {self._path}: {err.strerror}") from err
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                anchors.append(
                    Anchor(int(data["seq"]), str(data["hash"]), datetime.fromisoformat(data["at"]))
                )
            except (ValueError, KeyError, TypeError) as err:
                raise AnchorFileError(f"audit anchor file {self._path} line {number} is damaged") from err
        return anchors

    def anchor_head(self, repository: AuditRepository) -> Anchor | None:
        """Anchor the current head unless the newest anchor already names it; returns the new anchor."""
        head = repository.head()
        if head is None:
            return None
        anchors = self.read()
        if anchors and anchors[-1].seq == head.seq and anchors[-1].hash == head.hash:
            return None
        return self.append(head)
