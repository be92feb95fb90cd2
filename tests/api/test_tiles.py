"""The offline grid basemap: valid PNG tiles with lines where the graticule is, and the map settings."""

from __future__ import annotations

import struct
import zlib

import pytest

from watchkeeper.api.routes.tiles import (
    LOCAL_TILES,
    MAJOR,
    TILE_SIZE,
    NoSuchTileError,
    map_settings,
    render_tile,
)
from watchkeeper.config.server import ServerConfig


def _pixels(png: bytes) -> list[bytes]:
    """The palette indices of a tile, one ``bytes`` per row (checks the PNG structure on the way)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks = 8, {}
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind, data = png[offset + 4 : offset + 8], png[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", png[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + data)
        chunks[kind] = data
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (width, height, depth, colour) == (TILE_SIZE, TILE_SIZE, 8, 3)
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = TILE_SIZE + 1
    return [raw[row * stride + 1 : (row + 1) * stride] for row in range(TILE_SIZE)]


def test_world_tile_has_equator_and_prime_meridian_in_the_middle() -> None:
    rows = _pixels(render_tile(0, 0, 0))
    assert rows[128] == bytes([MAJOR]) * TILE_SIZE  # the equator
    assert all(row[128] != 0 for row in rows)  # the prime meridian, crossed by parallels
    assert rows[100][128] == MAJOR
    assert rows[5][5] == 0  # background elsewhere


def test_street_level_tile_still_draws_grid_lines() -> None:
    rows = _pixels(render_tile(18, 131_158, 84_900))
    full_rows = [row for row in rows if len(set(row)) == 1 and row[0] != 0]
    columns = [x for x in range(TILE_SIZE) if all(row[x] != 0 for row in rows)]
    assert full_rows
    assert columns


@pytest.mark.parametrize(("z", "x", "y"), [(0, 1, 0), (2, 0, 4), (21, 0, 0)])
def test_tiles_outside_the_pyramid_are_refused(z: int, x: int, y: int) -> None:
    with pytest.raises(NoSuchTileError, match="no tile"):
        render_tile(z, x, y)


def test_map_settings_say_whether_the_tiles_are_the_offline_grid() -> None:
    local = map_settings(ServerConfig())
    assert local.tile_url_template == LOCAL_TILES
    assert local.offline_grid
    assert "no map data" in local.attribution
    remote = map_settings(ServerConfig(tile_url_template="https://tiles.example.org/{z}/{x}/{y}.png"))
    assert not remote.offline_grid
    assert remote.tile_url_template.startswith("https://tiles.example.org/")
