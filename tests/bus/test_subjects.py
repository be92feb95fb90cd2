"""Subject patterns and their NATS-style wildcards."""

from __future__ import annotations

import pytest

from watchkeeper.bus.errors import BusError
from watchkeeper.bus.subjects import matches, parse_pattern, to_wire


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("wk.events.a", "wk.events.a", True),
        ("wk.events.a", "wk.events.b", False),
        ("wk.events.*", "wk.events.a", True),
        ("wk.events.*", "wk.events.a.b", False),
        ("wk.events.*", "wk.events", False),
        ("wk.*.a", "wk.segments.a", True),
        ("wk.>", "wk.cameras.a.status", True),
        ("wk.events.>", "wk.events", False),
        ("wk.events.>", "wk.events.a", True),
        ("wk.cameras.*.status", "wk.cameras.a.status", True),
        ("wk.cameras.*.status", "wk.cameras.a.health", False),
    ],
)
def test_matching(pattern: str, subject: str, expected: bool) -> None:
    assert matches(parse_pattern(pattern), subject) is expected


@pytest.mark.parametrize(
    ("pattern", "error"),
    [
        ("events.a", "must start with 'wk.'"),
        (">", "must start with 'wk.'"),
        ("wk.>.a", "only allowed as the last token"),
        ("wk..a", "token ''"),
        ("wk.a*", "token 'a\\*'"),
        ("wk.a b", "token 'a b'"),
    ],
)
def test_malformed_patterns(pattern: str, error: str) -> None:
    with pytest.raises(BusError, match=error):
        parse_pattern(pattern)


@pytest.mark.parametrize(
    ("subject", "prefix", "wire"),
    [("wk.events.a", "wk", "wk.events.a"), ("wk.>", "site1.wk", "site1.wk.>"), ("wk.*.a", "x", "x.*.a")],
)
def test_to_wire_replaces_the_root(subject: str, prefix: str, wire: str) -> None:
    assert to_wire(subject, prefix) == wire
