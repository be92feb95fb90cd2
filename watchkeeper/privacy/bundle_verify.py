"""``watchkeeper export verify``: check an evidence bundle offline and name exactly what fails."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from watchkeeper.audit.verify import verify_excerpt
from watchkeeper.domain.custody import AuditRecord
from watchkeeper.privacy.exports import AUDIT, MANIFEST, PUBLIC_KEY, SIGNATURE
from watchkeeper.privacy.signing import SigningKeyError, load_public_key, signature_ok


@dataclass(frozen=True, slots=True)
class BundleReport:
    """What verification found: ``problems`` is empty for an intact bundle signed by the given key."""

    export_id: str | None
    checked_files: int
    problems: tuple[str, ...] = field(default_factory=tuple)
    key_from_bundle: bool = False

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.problems


class _Bundle:
    """A bundle as a zip file or an unpacked folder."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._zip = zipfile.ZipFile(path) if path.is_file() else None

    def read(self, name: str) -> bytes | None:
        if self._zip is not None:
            try:
                return self._zip.read(name)
            except KeyError:
                return None
        target = self._path / name
        return target.read_bytes() if target.is_file() else None

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def _parse_audit(data: bytes) -> list[AuditRecord] | str:
    records = []
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        try:
            raw = json.loads(line)
            records.append(
                AuditRecord(
                    seq=int(raw["seq"]),
                    at=datetime.fromisoformat(raw["at"]),
                    actor=raw["actor"],
                    action=raw["action"],
                    target=raw["target"],
                    client=raw["client"],
                    reason=raw["reason"],
                    details=raw["details"],
                    prev_hash=raw["prev_hash"],
                    hash=raw["hash"],
                )
            )
        except (ValueError, KeyError, TypeError):
            return f"{AUDIT}: line {number} is not an audit record (tampered audit excerpt)"
    return records


def _check_files(bundle: _Bundle, files: dict[str, str]) -> list[str]:
    problems = []
    for name, expected in sorted(files.items()):
        data = bundle.read(name)
        if data is None:
            problems.append(f"{name}: missing file")
        elif hashlib.sha256(data).hexdigest() != expected:
            kind = "tampered audit excerpt" if name == AUDIT else "tampered media"
            problems.append(f"{name}: content does not match the manifest hash ({kind})")
    return problems


def _check_audit(bundle: _Bundle) -> list[str]:
    data = bundle.read(AUDIT)
    if data is None:
        return []
    parsed = _parse_audit(data)
    if isinstance(parsed, str):
        return [parsed]
    problem = verify_excerpt(parsed)
    return [] if problem is None else [f"{AUDIT}: {problem} (tampered audit excerpt)"]


def verify_bundle(path: Path, public_key_pem: bytes | None = None) -> BundleReport:
    """Check signature, every file hash and the audit excerpt of the bundle at ``path`` (zip or folder).

    Without ``public_key_pem`` the key inside the bundle is used: that proves integrity, not origin.
    """
    if not path.exists():
        return BundleReport(None, 0, (f"{path}: no such bundle",))
    bundle = _Bundle(path)
    try:
        manifest = bundle.read(MANIFEST)
        signature = bundle.read(SIGNATURE)
        if manifest is None or signature is None:
            missing = [name for name, data in ((MANIFEST, manifest), (SIGNATURE, signature)) if data is None]
            return BundleReport(None, 0, tuple(f"{name}: missing file" for name in missing))
        problems: list[str] = []
        key_pem = public_key_pem if public_key_pem is not None else bundle.read(PUBLIC_KEY)
        if key_pem is None:
            problems.append(f"{PUBLIC_KEY}: missing file (pass --public-key)")
        else:
            try:
                if not signature_ok(load_public_key(key_pem), signature, manifest):
                    problems.append(
                        f"{SIGNATURE}: the signature does not verify (wrong key, or the manifest was altered)"
                    )
            except SigningKeyError as err:
                problems.append(f"public key: {err}")
        try:
            content = json.loads(manifest)
            files = {str(k): str(v) for k, v in dict(content["files"]).items()}
        except (ValueError, KeyError, TypeError):
            return BundleReport(None, 0, (*problems, f"{MANIFEST}: not a manifest"))
        problems += _check_files(bundle, files)
        problems += _check_audit(bundle)
        return BundleReport(content.get("export_id"), len(files), tuple(problems), public_key_pem is None)
    finally:
        bundle.close()
