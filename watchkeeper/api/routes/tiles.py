"""The console's offline basemap and map settings.

``GET /tiles/{z}/{x}/{y}.png`` draws a plain graticule (latitude/longitude lines on a dark background) for
any Web-Mercator tile, so the map works on a site without internet and makes no third-party requests. It
is honest about being a grid: there are no streets or buildings in it. A site that may use a real tile
server sets ``server.tile_url_template``; ``GET /api/map/settings`` tells the console which one to use.

The PNG is encoded here (palette image, zlib) to avoid an imaging dependency.
"""

from __future__ import annotations

import math
import struct
import zlib
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from watchkeeper.api.errors import ERROR_RESPONSES
from watchkeeper.api.policy import AUTH_RESPONSES, Authenticated
from watchkeeper.config.server import ServerConfig
from watchkeeper.domain import NotFoundError

TILE_SIZE = 256
MAX_ZOOM = 20
LOCAL_TILES = "/tiles/{z}/{x}/{y}.png"
LOCAL_ATTRIBUTION = "Offline grid basemap (latitude/longitude lines only, no map data)"
GRID_STEPS_DEG = (30.0, 10.0, 5.0, 2.0, 1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005)
"""Graticule spacings, coarse to fine; a tile uses the coarsest that draws at least two lines across it."""
PALETTE = bytes((0x16, 0x1B, 0x22, 0x2A, 0x33, 0x3E, 0x4A, 0x58, 0x6A))
"""Background, grid line, equator/prime meridian (dark, to match the control-room theme)."""
BACKGROUND, LINE, MAJOR = 0, 1, 2


class NoSuchTileError(NotFoundError):
    """A tile outside the Web-Mercator pyramid."""

    code = "no_such_tile"


class MapSettingsOut(BaseModel):
    """How the console draws its map."""

    model_config = ConfigDict(frozen=True)

    tile_url_template: str = Field(description="Leaflet tile URL with `{z}`, `{x}` and `{y}`.")
    attribution: str = Field(description="Text shown in the map's corner.")
    offline_grid: bool = Field(description="True for Watchkeeper's own latitude/longitude grid tiles.")
    max_zoom: int


def _grid_step(span_deg: float) -> float:
    for step in GRID_STEPS_DEG:
        if span_deg / step >= 2:
            return step
    return GRID_STEPS_DEG[-1]


def _lat_of(y: float, n: int) -> float:
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))


def _y_of(lat: float, n: int) -> float:
    rad = math.radians(lat)
    return (1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * n


def _lines(first: float, last: float, step: float) -> list[float]:
    """Multiples of ``step`` in ``[first, last]``."""
    start, stop = math.ceil(first / step - 1e-9), math.floor(last / step + 1e-9)
    return [k * step for k in range(start, stop + 1)]


def _pixel(value: float) -> int | None:
    pixel = math.floor(value * TILE_SIZE)
    return pixel if 0 <= pixel < TILE_SIZE else None


def _columns(z: int, x: int) -> dict[int, int]:
    n = 2**z
    west, east = x / n * 360 - 180, (x + 1) / n * 360 - 180
    step = _grid_step(east - west)
    columns = {}
    for lon in _lines(west, east, step):
        pixel = _pixel((lon + 180) / 360 * n - x)
        if pixel is not None:
            columns[pixel] = MAJOR if abs(lon) < 1e-9 else LINE
    return columns


def _rows(z: int, y: int) -> dict[int, int]:
    n = 2**z
    north, south = _lat_of(y, n), _lat_of(y + 1, n)
    step = _grid_step(360 / n)
    rows = {}
    for lat in _lines(max(south, -85.0), min(north, 85.0), step):
        pixel = _pixel(_y_of(lat, n) - y)
        if pixel is not None:
            rows[pixel] = MAJOR if abs(lat) < 1e-9 else LINE
    return rows


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def render_tile(z: int, x: int, y: int) -> bytes:
    """The PNG of grid tile ``z/x/y``.

    Raises:
        NoSuchTileError: If the tile is outside the pyramid (``0 <= x, y < 2**z``, ``z <= MAX_ZOOM``).
    """
    n = 2**z
    if not (0 <= z <= MAX_ZOOM and 0 <= x < n and 0 <= y < n):
        raise NoSuchTileError(f"no tile {z}/{x}/{y} (zoom 0..{MAX_ZOOM}, x and y below 2**zoom)")
    base = bytearray(TILE_SIZE)
    for column, colour in _columns(z, x).items():
        base[column] = colour
    plain = b"\x00" + bytes(base)
    line_rows = _rows(z, y)
    raw = b"".join(
        b"\x00" + bytes([line_rows[row]]) * TILE_SIZE if row in line_rows else plain
        for row in range(TILE_SIZE)
    )
    header = struct.pack(">IIBBBBB", TILE_SIZE, TILE_SIZE, 8, 3, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"PLTE", PALETTE),
            _chunk(b"IDAT", zlib.compress(raw, 6)),
            _chunk(b"IEND", b""),
        )
    )


def map_settings(server: ServerConfig) -> MapSettingsOut:
    """The console's map settings for ``server``'s configuration."""
    local = server.tile_url_template == LOCAL_TILES
    return MapSettingsOut(
        tile_url_template=server.tile_url_template,
        attribution=LOCAL_ATTRIBUTION if local else "Map tiles: configured tile server",
        offline_grid=local,
        max_zoom=MAX_ZOOM,
    )


def build_router(server: ServerConfig) -> APIRouter:
    """The tile and map-settings routes over ``server``'s configuration."""
    router = APIRouter(tags=["map"], responses={**AUTH_RESPONSES, **ERROR_RESPONSES})
    settings = map_settings(server)

    @router.get("/api/map/settings", operation_id="getMapSettings", dependencies=[Depends(Authenticated())])
    def get_map_settings() -> MapSettingsOut:
        """Which tiles the console's map draws, and their attribution."""
        return settings

    @router.get(
        "/tiles/{z}/{x}/{y}.png",
        operation_id="getMapTile",
        dependencies=[Depends(Authenticated())],
        response_class=Response,
        responses={200: {"content": {"image/png": {}}, "description": "A 256 px grid tile"}},
    )
    def get_map_tile(
        z: Annotated[int, Path(ge=0, le=MAX_ZOOM)],
        x: Annotated[int, Path(ge=0)],
        y: Annotated[int, Path(ge=0)],
    ) -> Response:
        """One tile of the offline latitude/longitude grid (Web-Mercator ``z/x/y``)."""
        return Response(
            render_tile(z, x, y), media_type="image/png", headers={"Cache-Control": "private, max-age=86400"}
        )

    return router
