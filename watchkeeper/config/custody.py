"""The ``custody`` section: encrypted originals, unmask grants, the audit anchor and evidence exports."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from watchkeeper.config.base import ConfigModel


def _resolve(path: Path | None, base_dir: Path) -> Path | None:
    if path is None or path.is_absolute():
        return path
    return Path(os.path.normpath(base_dir / path))


class CustodyConfig(ConfigModel):
    """How originals are protected and how access to them is granted, audited and exported.

    Key files default to ``keys/`` beside the media folder; relative paths resolve against the config folder.
    """

    encrypt_originals: bool = Field(
        default=True,
        title="Encrypt originals",
        description="Encrypt original segments at rest (AES-256-GCM, per-camera daily data keys).",
    )
    master_key_file: Path | None = Field(
        default=None,
        title="Master key file",
        description=(
            "Key file (mode 0600, created on first run) whose key wraps the data keys; default "
            "`keys/master.key` beside the media folder. Keep a backup: without it originals are lost."
        ),
    )
    signing_key_file: Path | None = Field(
        default=None,
        title="Export signing key file",
        description="Ed25519 key signing evidence exports (mode 0600); default `keys/export-signing.key`.",
    )
    exports_dir: Path | None = Field(
        default=None,
        title="Exports folder",
        description="Where evidence bundles are written; default `exports/` beside the media folder.",
    )
    audit_anchor_file: Path | None = Field(
        default=None,
        title="Audit anchor file",
        description="Append-only file the audit chain head is written to; default `audit/anchors.jsonl`.",
    )
    anchor_interval_s: float = Field(
        default=300.0,
        title="Audit anchor interval (s)",
        description="Seconds between audit anchors (only written when the log grew).",
        ge=1.0,
        le=86400.0,
    )
    grant_hours: float = Field(
        default=24.0,
        title="Unmask grant validity (h)",
        description="Hours an approved unmask grant lasts unless the request asks for less.",
        gt=0,
        le=168,
    )
    max_grant_hours: float = Field(
        default=168.0,
        title="Longest unmask grant (h)",
        description="The longest validity a request may ask for.",
        gt=0,
        le=720,
    )
    break_glass: bool = Field(
        default=False,
        title="Break glass",
        description=(
            "Allow emergency access to live originals without approval: live only, reason required, "
            "audited with a WARNING log, approvers notified (console, MQTT, webhooks). Off by default."
        ),
    )
    break_glass_minutes: float = Field(
        default=15.0,
        title="Break glass duration (min)",
        description="Minutes a break-glass grant lasts.",
        gt=0,
        le=240,
    )

    def resolved(self, base_dir: Path) -> CustodyConfig:
        """Return a copy with relative paths made absolute against ``base_dir``."""
        return self.model_copy(
            update={
                "master_key_file": _resolve(self.master_key_file, base_dir),
                "signing_key_file": _resolve(self.signing_key_file, base_dir),
                "exports_dir": _resolve(self.exports_dir, base_dir),
                "audit_anchor_file": _resolve(self.audit_anchor_file, base_dir),
            }
        )

    def paths(self, media_root: Path) -> CustodyPaths:
        """The effective file locations (defaults beside ``media_root``)."""
        base = media_root.parent
        return CustodyPaths(
            master_key_file=self.master_key_file or base / "keys" / "master.key",
            signing_key_file=self.signing_key_file or base / "keys" / "export-signing.key",
            exports_dir=self.exports_dir or base / "exports",
            audit_anchor_file=self.audit_anchor_file or base / "audit" / "anchors.jsonl",
        )


@dataclass(frozen=True, slots=True)
class CustodyPaths:
    """Effective custody file locations."""

    master_key_file: Path
    signing_key_file: Path
    exports_dir: Path
    audit_anchor_file: Path
