"""Resolve ``${secret:NAME}`` references in a parsed configuration from the encrypted secrets store.

A reference may stand for a whole value (``password: ${secret:mqtt}``) or part of one
(``url: rtsp://viewer:${secret:gate-cam}@10.0.0.5/stream``), but only in fields that keep their value secret
(``SecretUrl`` URLs and ``SecretStr`` passwords): elsewhere the value would be shown, so it is an error.
Resolved values reach the models already wrapped (``SecretUrl`` hiding them, ``SecretStr``), so they never
appear in a repr, a dump, the API or a validation message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from watchkeeper.config.base import format_path
from watchkeeper.config.errors import ConfigError, ConfigProblem
from watchkeeper.config.problems import line_of, secret_type_at
from watchkeeper.config.secrets import SecretUrl
from watchkeeper.config.secretstore import NAME_PATTERN, SecretStore, SecretStoreError

Loc = tuple[str | int, ...]
REFERENCE_START = "${secret:"
_REFERENCE = re.compile(r"\$\{secret:([^}]*)\}")
_NAME = re.compile(NAME_PATTERN)


@dataclass(frozen=True, slots=True)
class ResolvedSecrets:
    """The document with every reference replaced, and the secret values used (to scrub messages with)."""

    data: dict[str, Any]
    values: frozenset[str]


def _references(node: Any, path: Loc) -> Iterator[tuple[Loc, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _references(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _references(item, (*path, index))
    elif isinstance(node, str) and REFERENCE_START in node:
        yield path, node


def _replace(node: Any, path: Loc, replacements: dict[Loc, object]) -> Any:
    if path in replacements:
        return replacements[path]
    if isinstance(node, dict):
        return {key: _replace(value, (*path, str(key)), replacements) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace(item, (*path, index), replacements) for index, item in enumerate(node)]
    return node


class _Resolver:
    """Resolves the references of one document, collecting one problem per bad reference."""

    def __init__(self, root: yaml.Node, source: str, store: SecretStore) -> None:
        self._root = root
        self._source = source
        self._store = store
        self.problems: list[ConfigProblem] = []
        self.values: set[str] = set()

    def _problem(self, path: Loc, message: str) -> None:
        self.problems.append(
            ConfigProblem(self._source, line_of(self._root, path), format_path(path), message)
        )

    def _lookup(self, path: Loc, match: re.Match[str]) -> str:
        name = match.group(1)
        if not _NAME.match(name):
            self._problem(path, f"invalid secret name {name[:64]!r} in ${{secret:...}}")
            return ""
        value = self._store.get(name)
        if value is None:
            self._problem(
                path,
                f"unknown secret {name!r} (not in {self._store.path}; add it with "
                f"`watchkeeper secrets set --config FILE {name}`)",
            )
            return ""
        self.values.add(value)
        return value

    def resolve(self, path: Loc, text: str) -> object:
        kind = secret_type_at(path)
        if kind is None:
            self._problem(
                path,
                "${secret:...} is allowed only in URL and password fields (this value would be shown)",
            )
            return text
        used: list[str] = []

        def substitute(match: re.Match[str]) -> str:
            value = self._lookup(path, match)
            used.append(value)
            return value

        resolved = _REFERENCE.sub(substitute, text)
        if REFERENCE_START in _REFERENCE.sub("", text):
            self._problem(path, "unterminated ${secret:NAME} reference")
        if kind is SecretUrl:
            return SecretUrl(resolved.strip(), hidden=used)
        return SecretStr(resolved)


def resolve_secret_refs(data: dict[str, Any], root: yaml.Node, source: str, folder: Path) -> ResolvedSecrets:
    """Replace every ``${secret:NAME}`` in ``data`` by the stored value, wrapped in its secret type.

    The store in ``folder`` is only opened when the document holds a reference.

    Args:
        data: The parsed YAML document.
        root: Its composed node tree (for line numbers).
        source: The file name to show in errors.
        folder: The folder of the configuration file (where ``secrets.enc`` and ``secrets.key`` live).

    Returns:
        The document with references resolved, and the set of values used.

    Raises:
        ConfigError: A name is unknown or invalid, a reference sits in a field that is not secret, or the
            store cannot be opened (missing or too open key file, another key, tampered file); the
            message names file, line and key path and the secret's name, never its value.
    """
    found = list(_references(data, ()))
    if not found:
        return ResolvedSecrets(data, frozenset())
    try:
        store = SecretStore.open(folder)
    except SecretStoreError as err:
        path, _ = found[0]
        problem = ConfigProblem(source, line_of(root, path), format_path(path), str(err))
        raise ConfigError([problem]) from None
    resolver = _Resolver(root, source, store)
    replacements = {path: resolver.resolve(path, text) for path, text in found}
    if resolver.problems:
        raise ConfigError(resolver.problems)
    return ResolvedSecrets(_replace(data, (), replacements), frozenset(resolver.values))


def scrub(problems: list[ConfigProblem], values: frozenset[str]) -> list[ConfigProblem]:
    """Replace any resolved secret value found in the problem messages by ``***`` (belt and braces).

    Args:
        problems: Problems built from a validation error.
        values: The secret values the document used.

    Returns:
        The problems, with secret values masked.
    """
    ordered = sorted((value for value in values if value), key=len, reverse=True)
    cleaned: list[ConfigProblem] = []
    for problem in problems:
        message = problem.message
        for value in ordered:
            message = message.replace(value, "***")
        cleaned.append(ConfigProblem(problem.file, problem.line, problem.path, message))
    return cleaned
