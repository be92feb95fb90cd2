"""The ``server`` section: HTTP API and web console."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from watchkeeper.config.base import ConfigModel


class ServerConfig(ConfigModel):
    """Where the API and web console listen, and how the map is drawn."""

    host: str = Field(
        default="127.0.0.1",
        title="Listen address",
        description="Interface to listen on; `127.0.0.1` keeps the console local, `0.0.0.0` exposes it.",
        min_length=1,
        max_length=253,
        pattern=r"^[A-Za-z0-9.:\-\[\]]+$",
    )
    port: int = Field(
        default=8080, title="Port", description="TCP port of the API and console.", ge=1, le=65535
    )
    public_url: str | None = Field(
        default=None,
        title="Public URL",
        description="URL users reach the console at, when behind a proxy (used in links and webhooks).",
        pattern=r"^https?://[^\s/]+(/\S*)?$",
        max_length=2000,
    )
    tile_url_template: str = Field(
        default="/tiles/{z}/{x}/{y}.png",
        title="Map tile URL template",
        description=(
            "Leaflet tile URL with `{z}`, `{x}` and `{y}`. The default is served locally so the console "
            "makes no third-party requests; set an external tile server only if your policy allows it."
        ),
        min_length=1,
        max_length=2000,
    )

    @field_validator("tile_url_template")
    @classmethod
    def _tile_placeholders(cls, value: str) -> str:
        missing = [name for name in ("{z}", "{x}", "{y}") if name not in value]
        if missing:
            raise PydanticCustomError(
                "tile_template", "template lacks placeholder(s) {missing}", {"missing": ", ".join(missing)}
            )
        return value
