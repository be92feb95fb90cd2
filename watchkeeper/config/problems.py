"""Turn pydantic validation errors into ``ConfigProblem`` lines with YAML line numbers."""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import ErrorDetails

from watchkeeper.config.base import ConfigIssue, format_path
from watchkeeper.config.errors import ConfigProblem
from watchkeeper.config.root import REFERENCE_ERROR, WatchkeeperConfig
from watchkeeper.config.secrets import SecretUrl, redact_url

Loc = tuple[str | int, ...]
_MAX_SHOWN = 60
_NO_INPUT_TYPES = frozenset({"missing", "extra_forbidden", REFERENCE_ERROR})


def problems_from_validation(error: ValidationError, root: yaml.Node, source: str) -> list[ConfigProblem]:
    """Map each pydantic error to one problem line, sorted by line number.

    Args:
        error: The error raised while validating the document.
        root: The composed YAML node tree of the document.
        source: The file name to show.

    Returns:
        The problems, with passwords redacted.
    """
    problems: list[ConfigProblem] = []
    for detail in error.errors():
        for loc, kind, message in _expand(detail):
            path = _clean_loc(loc)
            line = _line_of(root, path, kind)
            problems.append(ConfigProblem(source, line, format_path(path), redact_url(message)))
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda problem: (problem.line or 0, problem.path))


def _expand(detail: ErrorDetails) -> Iterator[tuple[Loc, str, str]]:
    kind = detail["type"]
    loc: Loc = tuple(detail["loc"])
    if kind == REFERENCE_ERROR:
        issues: Sequence[ConfigIssue] = detail.get("ctx", {}).get("issues", ())
        for issue in issues:
            yield loc + issue.path, kind, issue.message
        return
    if kind == "extra_forbidden":
        yield loc, kind, _unknown_key_message(loc)
        return
    if kind == "missing":
        yield loc, kind, "required key is missing"
        return
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        yield _union_tag_problem(detail, loc)
        return
    message = "expected a mapping of keys" if kind in ("model_type", "dict_type") else detail["msg"]
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = message[:1].lower() + message[1:]
    if kind not in _NO_INPUT_TYPES and _is_scalar(detail["input"]) and not _holds_secret(loc):
        message = f"{message} (got {_show(detail['input'])})"
    yield loc, kind, message


def _union_tag_problem(detail: ErrorDetails, loc: Loc) -> tuple[Loc, str, str]:
    ctx = detail.get("ctx", {})
    key = str(ctx.get("discriminator", "'type'")).strip("'")
    if detail["type"] == "union_tag_not_found":
        return loc, "missing", f"required key {key!r} is missing (it selects the kind)"
    expected = str(ctx.get("expected_tags", "")).replace("', '", "' or '")
    return (*loc, key), detail["type"], f"input should be {expected} (got {_show(ctx.get('tag'))})"


def _unknown_key_message(loc: Loc) -> str:
    key = loc[-1] if loc else ""
    allowed = sorted(_field_names(_clean_loc(loc)[:-1]))
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key (did you mean {close[0]!r}?)"
    if allowed:
        return "unknown key (expected one of: " + ", ".join(allowed) + ")"
    return "unknown key"


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _show(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= _MAX_SHOWN else value[: _MAX_SHOWN - 3] + "..."
        return repr(text)
    return str(value)


def _unwrap(annotation: Any) -> list[Any]:
    """Flatten ``Annotated``, ``Optional`` and unions into their member types."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [member for arg in get_args(annotation) for member in _unwrap(arg)]
    return [annotation]


def _step(candidates: list[Any], part: str | int) -> list[Any]:
    found: list[Any] = []
    for candidate in candidates:
        for member in _unwrap(candidate):
            if isinstance(part, int) and get_origin(member) is list:
                found.append(get_args(member)[0])
            elif isinstance(member, type) and issubclass(member, BaseModel) and part in member.model_fields:
                found.append(member.model_fields[str(part)].annotation)
    return found


def _clean_loc(loc: Loc) -> Loc:
    """Drop union tags pydantic puts in locations (``storage.bus.nats.url`` -> ``storage.bus.url``)."""
    candidates: list[Any] = [WatchkeeperConfig]
    kept: list[str | int] = []
    for index, part in enumerate(loc):
        following = _step(candidates, part)
        if following or index == len(loc) - 1:
            kept.append(part)
            candidates = following
    return tuple(kept)


def _holds_secret(loc: Loc) -> bool:
    """True when the value at ``loc`` is a secret field, whose input must never be echoed."""
    return secret_type_at(_clean_loc(loc)) is not None


def secret_type_at(path: Loc) -> type[SecretUrl] | type[SecretStr] | None:
    """The secret type the value at key ``path`` validates into: ``SecretUrl``, ``SecretStr`` or None.

    Args:
        path: Key names and list indexes from the root of the file (as in the YAML, no union tags).

    Returns:
        ``SecretUrl`` or ``SecretStr`` when the field keeps its value secret, else None.
    """
    candidates: list[Any] = [WatchkeeperConfig]
    for part in path:
        candidates = _step(candidates, part)
    members = [member for candidate in candidates for member in _unwrap(candidate)]
    if SecretUrl in members:
        return SecretUrl
    if SecretStr in members:
        return SecretStr
    return None


def line_of(root: yaml.Node, path: Loc) -> int:
    """The 1-based line of the key at ``path`` in the YAML tree (of the nearest existing parent)."""
    return _line_of(root, path, "")


def _field_names(path: Loc) -> set[str]:
    candidates: list[Any] = [WatchkeeperConfig]
    for part in path:
        candidates = _step(candidates, part)
    names: set[str] = set()
    for candidate in candidates:
        for member in _unwrap(candidate):
            if isinstance(member, type) and issubclass(member, BaseModel):
                names.update(member.model_fields)
    return names


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    """Return (value node, node whose line names it) for a mapping key or sequence index."""
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
                return value_node, key_node
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item: yaml.Node = node.value[part]
        return item, item
    return None


def _line_of(root: yaml.Node, path: Loc, kind: str) -> int:
    """Line of the key (unknown keys, values) or of the parent mapping (missing keys)."""
    node, named_by = root, root
    for part in path:
        found = _child(node, part)
        if found is None:
            break
        node, named_by = found
    return int(named_by.start_mark.line) + 1
