"""Subjects: dot-separated tokens under the root token ``wk``, with NATS wildcards.

``*`` matches exactly one token, ``>`` (last token only) matches one or more tokens. Logical subjects always
start with ``wk``; a backend may map that root to another prefix on the wire (see :func:`to_wire`).
"""

import re
from typing import Final

from watchkeeper.bus.errors import BusError

ROOT: Final = "wk"
"""Root token of every logical subject."""

_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


def check_token(value: str, what: str) -> str:
    """Return ``value`` if it can be one subject token (letters, digits, ``_`` and ``-``).

    Raises:
        ValueError: naming ``what`` when the value holds a dot, a wildcard, a space or is empty.
    """
    if not _TOKEN.match(value):
        raise ValueError(f"{what} {value!r} cannot be a subject token: use letters, digits, '_' or '-'")
    return value


def parse_pattern(pattern: str) -> tuple[str, ...]:
    """Split and check a subscription pattern such as ``wk.events.*`` or ``wk.>``.

    Raises:
        BusError: when the pattern is malformed or outside the ``wk`` namespace.
    """
    tokens = tuple(pattern.split("."))
    if tokens[0] != ROOT:
        raise BusError(f"subject {pattern!r} must start with '{ROOT}.'")
    for index, part in enumerate(tokens):
        if part == ">" and index != len(tokens) - 1:
            raise BusError(f"subject {pattern!r}: '>' is only allowed as the last token")
        if part not in ("*", ">") and not _TOKEN.match(part):
            raise BusError(f"subject {pattern!r}: token {part!r} is empty or not made of [A-Za-z0-9_-]")
    return tokens


def matches(pattern: tuple[str, ...], subject: str) -> bool:
    """True when ``subject`` (concrete, no wildcards) matches the parsed ``pattern``."""
    tokens = subject.split(".")
    for index, want in enumerate(pattern):
        if want == ">":
            return len(tokens) > index
        if index >= len(tokens) or (want != "*" and want != tokens[index]):
            return False
    return len(tokens) == len(pattern)


def to_wire(subject: str, prefix: str) -> str:
    """Replace the root token ``wk`` of a logical subject or pattern with ``prefix`` (which may hold dots)."""
    parse_pattern(subject)
    return prefix + subject[len(ROOT) :]
