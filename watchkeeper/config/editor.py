"""Edit the YAML configuration file from the console: validated, atomic, backed up, comments kept.

The file stays the source of truth. An edit loads it with ``ruamel.yaml`` round-trip (comments, key order
and quoting survive), changes the document in memory, validates the resulting text with the very models
and loader the server starts from (:func:`~watchkeeper.config.loader.parse_config_text`), and only then
writes it: a timestamped copy of the old file goes to ``config-backups/`` beside it, and the new text
replaces the file atomically (temporary file, fsync, rename). Nothing is written when validation fails.
"""

from __future__ import annotations

import difflib
import io
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from watchkeeper.config.errors import ConfigError, ConfigProblem
from watchkeeper.config.loader import load_config, parse_config_text
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.config.secrets import redact_url
from watchkeeper.domain import NotFoundError

log = logging.getLogger(__name__)

BACKUP_FOLDER = "config-backups"
"""Folder beside the configuration file that keeps copies of it from before each edit."""
KEEP_BACKUPS = 20
"""How many backups are kept (the oldest are deleted)."""
MAX_DIFF_CHARS = 8000
"""Longest diff kept in a change record (audit details stay small)."""

Document = CommentedMap
"""The round-trip YAML document (a mapping that remembers comments and order)."""


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """A change that was written to the file.

    Attributes:
        summary: What changed, in a few words (``camera cam1 updated``).
        diff: Unified diff of the file, passwords in URLs redacted.
        config: The new, validated configuration.
        backup: The copy of the file from before the change.
    """

    summary: str
    diff: str
    config: WatchkeeperConfig
    backup: Path


class ConfigEditRejected(ConfigError):
    """An edit would make the configuration invalid; the file was left as it was."""

    code = "config_rejected"

    def __init__(self, problems: Sequence[ConfigProblem], prefix: str) -> None:
        """Build the error from the problems and the key path of the edited item (``cameras[2]``)."""
        super().__init__(problems)
        self.prefix = prefix

    def field_of(self, problem: ConfigProblem) -> str:
        """The problem's key path relative to the edited item (``inputs[0].url``); ``""`` if outside it."""
        if not self.prefix:
            return problem.path
        if problem.path == self.prefix:
            return ""
        for separator in (".", "["):
            if problem.path.startswith(self.prefix + separator):
                rest = problem.path[len(self.prefix) :]
                return rest[1:] if separator == "." else rest
        return ""


class ConfigEditor:
    """Reads and edits one configuration file; edits are serialized (one at a time)."""

    def __init__(self, path: Path, keep_backups: int = KEEP_BACKUPS) -> None:
        """Edit the file at ``path``; keep the ``keep_backups`` newest copies of it."""
        self._path = path
        self._keep = keep_backups
        self._lock = threading.Lock()
        self._yaml = YAML(typ="rt")
        self._yaml.preserve_quotes = True
        self._yaml.width = 4096
        self._yaml.indent(mapping=2, sequence=4, offset=2)

    @property
    def path(self) -> Path:
        """The configuration file."""
        return self._path

    def current(self) -> WatchkeeperConfig:
        """The file as the server would load it now (validated, secrets resolved)."""
        with self._lock:
            return load_config(self._path)

    def snapshot(self) -> dict[str, Any]:
        """The document as plain JSON-able data, with passwords in URLs redacted (for showing)."""
        with self._lock:
            document = self._load()
        data = plain(document)
        if not isinstance(data, dict):
            raise ConfigError([ConfigProblem(str(self._path), None, "", "top level must be a mapping")])
        return data

    def edit(self, summary: str, change: Callable[[Document], str]) -> ConfigChange:
        """Apply ``change`` to the document, validate it and write it back.

        Args:
            summary: What the change does, for logs and the audit record.
            change: Mutates the round-trip document in place and returns the key path of what it edited
                (``cameras[2]``, or ``""``); may raise ``NotFoundError`` or ``ConfigError``.

        Returns:
            The written change.

        Raises:
            ConfigEditRejected: The changed document is invalid; nothing was written. Problem paths are
                those of the file (``cameras[2].inputs[0].url``); ``prefix`` says which item was edited.
            NotFoundError: ``change`` names something that does not exist.
        """
        with self._lock:
            before = self._read_text()
            prefix = ""
            try:
                document = self._load_text(before)
                prefix = change(document)
                buffer = io.StringIO()
                self._yaml.dump(document, buffer)
                after = buffer.getvalue()
                config = parse_config_text(
                    after, source=self._path.name, base_dir=self._path.absolute().parent
                )
            except ConfigEditRejected:
                raise
            except ConfigError as err:
                raise ConfigEditRejected(err.problems, prefix) from None
            backup = self._backup(before)
            _write_atomically(self._path, after)
        diff = _diff(before, after, self._path.name)
        log.info("configuration changed: %s (backup %s)", summary, backup.name)
        return ConfigChange(summary=summary, diff=diff, config=config, backup=backup)

    def _read_text(self) -> str:
        try:
            return self._path.read_text(encoding="utf-8")
        except OSError as err:
            reason = err.strerror or type(err).__name__
            raise ConfigError([ConfigProblem(str(self._path), None, "", f"cannot read: {reason}")]) from err

    def _load(self) -> Document:
        return self._load_text(self._read_text())

    def _load_text(self, text: str) -> Document:
        try:
            document = self._yaml.load(text)
        except YAMLError as err:
            message = f"YAML error: {redact_url(str(err).splitlines()[0])}"
            raise ConfigError([ConfigProblem(str(self._path), None, "", message)]) from None
        if not isinstance(document, CommentedMap):
            message = "top level must be a mapping of sections"
            raise ConfigError([ConfigProblem(str(self._path), None, "", message)])
        return document

    def _backup(self, text: str) -> Path:
        folder = self._path.parent / BACKUP_FOLDER
        folder.mkdir(mode=0o700, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        backup = folder / f"{self._path.stem}-{stamp}{self._path.suffix}"
        _write_atomically(backup, text)
        old = sorted(folder.glob(f"{self._path.stem}-*{self._path.suffix}"))
        for stale in old[: max(0, len(old) - self._keep)]:
            stale.unlink(missing_ok=True)
        return backup


def _write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so a reader sees the old or the new file, never half of one."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        Path(temporary).chmod(mode)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _diff(before: str, after: str, name: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{name}", f"b/{name}"
    )
    text = redact_url("".join(lines))
    return text if len(text) <= MAX_DIFF_CHARS else text[:MAX_DIFF_CHARS] + "\n... (diff truncated)\n"


def plain(node: object) -> object:
    """Round-trip YAML data as plain dicts, lists and scalars, passwords in URL strings redacted."""
    if isinstance(node, dict):
        return {str(key): plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [plain(item) for item in node]
    if isinstance(node, str):
        return redact_url(str(node))
    if node is None or isinstance(node, bool | int | float):
        return node
    return str(node)


def merge_into(target: CommentedMap, values: dict[str, Any]) -> None:
    """Make ``target`` hold ``values``: keys updated in place (comments kept), missing keys removed.

    Nested mappings merge the same way; lists and scalars are replaced.
    """
    for key in [key for key in target if key not in values]:
        del target[key]
    for key, value in values.items():
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, CommentedMap):
            merge_into(current, value)
        elif isinstance(value, list) and isinstance(current, CommentedSeq) and len(value) == len(current):
            _merge_list(current, value)
        elif plain(current) != value or key not in target:
            target[key] = _to_yaml(value)


def _merge_list(target: CommentedSeq, values: list[Any]) -> None:
    """Update a list of the same length item by item, so unchanged items keep their comments and style."""
    for index, value in enumerate(values):
        current = target[index]
        if isinstance(value, dict) and isinstance(current, CommentedMap):
            merge_into(current, value)
        elif isinstance(value, list) and isinstance(current, CommentedSeq) and len(value) == len(current):
            _merge_list(current, value)
        elif plain(current) != value:
            target[index] = _to_yaml(value)


def _to_yaml(value: object) -> object:
    if isinstance(value, dict):
        mapping = CommentedMap()
        for key, item in value.items():
            mapping[str(key)] = _to_yaml(item)
        return mapping
    if isinstance(value, list):
        return CommentedSeq([_to_yaml(item) for item in value])
    return value


def section_list(document: Document, key: str) -> CommentedSeq:
    """The list under ``key`` (created empty when absent)."""
    found = document.get(key)
    if found is None:
        document[key] = found = CommentedSeq()
    if not isinstance(found, CommentedSeq):
        raise ConfigError([ConfigProblem("", None, key, "must be a list")])
    return found


def section_map(document: Document, key: str) -> CommentedMap:
    """The mapping under ``key`` (created empty when absent)."""
    found = document.get(key)
    if found is None:
        document[key] = found = CommentedMap()
    if not isinstance(found, CommentedMap):
        raise ConfigError([ConfigProblem("", None, key, "must be a mapping")])
    return found


def find_item(items: CommentedSeq, item_id: str, noun: str) -> tuple[int, CommentedMap]:
    """The index and mapping of the entry of ``items`` whose ``id`` is ``item_id``.

    Raises:
        NotFoundError: No entry has that id.
    """
    for index, item in enumerate(items):
        if isinstance(item, CommentedMap) and item.get("id") == item_id:
            return index, item
    raise NotFoundError(f"no {noun} with id {item_id!r} in the configuration file")


def index_of(document: Document, section: str, item_id: str) -> int | None:
    """Position of the entry ``item_id`` in ``section``, or None (for mapping error paths to a form)."""
    items = document.get(section)
    if not isinstance(items, CommentedSeq):
        return None
    for index, item in enumerate(items):
        if isinstance(item, CommentedMap) and item.get("id") == item_id:
            return index
    return None
