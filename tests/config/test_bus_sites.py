"""``storage.bus`` for several sites: a site token, the hub's sources, the duplicate window."""

from __future__ import annotations

import pytest

from tests.config.conftest import GOOD_CONFIG, WriteConfig
from watchkeeper.bus.nats import NatsBus
from watchkeeper.config import ConfigError, NatsBusConfig, load_config
from watchkeeper.runtime.wiring import build_bus

BUS = GOOD_CONFIG + "storage:\n  bus:\n    type: nats\n    stream: wk\n"


def test_the_default_bus_has_no_site_and_no_sources(write_config: WriteConfig) -> None:
    bus = load_config(write_config(BUS)).storage.bus
    assert isinstance(bus, NatsBusConfig)
    assert bus.site is None
    assert bus.sources == []
    assert bus.duplicate_window_s == 120.0


def test_a_hub_lists_its_sites_with_defaults_from_the_domain_and_its_stream(
    write_config: WriteConfig,
) -> None:
    text = BUS + (
        "    site: hub\n    duplicate_window_s: 600\n    sources:\n"
        "      - domain: site-042\n      - domain: leaf-7\n        site: site-007\n        stream: wk7\n"
    )
    config = load_config(write_config(text)).storage.bus
    assert isinstance(config, NatsBusConfig)
    assert [source.site_token for source in config.sources] == ["site-042", "site-007"]
    bus = build_bus(config)
    assert isinstance(bus, NatsBus)
    assert bus.tuning.duplicate_window_s == 600.0
    assert [(item.domain, item.stream, item.site) for item in bus.layout.sources] == [
        ("site-042", "wk", "site-042"),
        ("leaf-7", "wk7", "site-007"),
    ]


@pytest.mark.parametrize(
    ("extra", "line", "expected"),
    [
        ("    sources:\n      - domain: site-1\n", 12, "sources need this node's own site token"),
        ("    site: s1\n    sources:\n      - domain: s1\n", 12, "source site 's1' is this node's own site"),
        (
            "    site: hub\n    sources:\n      - domain: a\n      - domain: b\n        site: a\n",
            12,
            "sources repeat site tokens: a",
        ),
        ("    site: a.b\n", 15, "storage.bus.site: string should match pattern"),
        ("    duplicate_window_s: 0\n", 15, "duplicate_window_s: input should be greater than or equal to 1"),
        (
            "    site: hub\n    sources:\n      - site: x\n",
            17,
            "storage.bus.sources[0].domain: required key is missing",
        ),
    ],
)
def test_bad_site_settings_give_one_line(
    write_config: WriteConfig, extra: str, line: int, expected: str
) -> None:
    path = write_config(BUS + extra)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    rows = str(caught.value).splitlines()
    assert len(rows) == 1, rows
    assert expected in rows[0], rows
    assert rows[0].startswith(f"{path}:{line}: "), rows
