"""The ``server`` section: HTTP API and web console."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_core import PydanticCustomError

from watchkeeper.config.base import ConfigModel

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


class TlsConfig(ConfigModel):
    """A certificate and key: the server then speaks HTTPS itself (no proxy needed)."""

    cert_file: Path = Field(
        title="Certificate file",
        description="PEM certificate chain (server certificate first); relative to the config file.",
    )
    key_file: Path = Field(
        title="Key file",
        description="PEM private key of the certificate, unencrypted; keep it readable by this user only.",
    )

    def resolved(self, base_dir: Path) -> TlsConfig:
        """Return a copy with relative paths made absolute against ``base_dir``.

        Args:
            base_dir: The folder of the config file.

        Returns:
            The same settings with absolute paths.
        """
        return self.model_copy(
            update={"cert_file": base_dir / self.cert_file, "key_file": base_dir / self.key_file}
        )


class RateLimitConfig(ConfigModel):
    """Token buckets (per client address, and per session or API token) on login and expensive endpoints."""

    enabled: bool = Field(
        default=True, title="Enabled", description="Answer 429 with `Retry-After` when a bucket is empty."
    )
    login_per_minute: float = Field(
        default=10.0,
        title="Login attempts per minute",
        description="Sustained rate of `POST /api/auth/login` per client address.",
        gt=0,
        le=100000,
    )
    login_burst: int = Field(
        default=10,
        title="Login burst",
        description="Login attempts a client address may make at once before the rate applies.",
        ge=1,
        le=100000,
    )
    expensive_per_minute: float = Field(
        default=30.0,
        title="Expensive requests per minute",
        description="Sustained rate of clip exports and searches, per client address and per credential.",
        gt=0,
        le=100000,
    )
    expensive_burst: int = Field(
        default=10,
        title="Expensive burst",
        description="Expensive requests allowed at once before the rate applies.",
        ge=1,
        le=100000,
    )


class IceServerConfig(ConfigModel):
    """One STUN or TURN server the WebRTC live view may use to reach viewers across NAT."""

    urls: list[str] = Field(
        title="URLs",
        description="`stun:host:port`, `turn:host:port?transport=udp` or `turns:host:port` addresses.",
        min_length=1,
        max_length=10,
    )
    username: str | None = Field(
        default=None,
        title="Username",
        description="TURN user name (STUN needs none).",
        min_length=1,
        max_length=200,
    )
    credential: SecretStr | None = Field(
        default=None,
        title="Credential",
        description=(
            "TURN password (may be a `${secret:NAME}` reference). Browsers need it, so it is handed to "
            "logged-in consoles: use a TURN-only account."
        ),
    )

    @field_validator("urls")
    @classmethod
    def _ice_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("stun:", "stuns:", "turn:", "turns:")):
                raise ValueError(f"{url!r} is not a stun:, stuns:, turn: or turns: address")
        return urls


class WebRtcConfig(ConfigModel):
    """The WebRTC live view (the console's lowest-latency transport)."""

    enabled: bool = Field(
        default=True,
        title="Offer WebRTC",
        description="Offer live views over WebRTC; off: consoles use fMP4 over a WebSocket or MJPEG.",
    )
    ice_servers: list[IceServerConfig] = Field(
        default_factory=list,
        title="ICE servers",
        description=(
            "STUN/TURN servers for WebRTC. Empty (the default): host candidates only, which works on a "
            "LAN or loopback; viewers behind NAT or a firewall need a TURN server here."
        ),
        max_length=10,
    )


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
    tls: TlsConfig | None = Field(
        default=None,
        title="TLS",
        description="Serve HTTPS with this certificate. Leave unset behind a TLS-terminating reverse proxy.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        title="CORS origins",
        description=(
            "Other web origins (`https://host[:port]`) allowed to call the API from a browser. Empty (the "
            "default): no cross-origin access at all; the console needs none."
        ),
        max_length=100,
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        title="Largest request body",
        description="Requests with a bigger body are refused with 413 before they are read further.",
        ge=1024,
        le=1024 * 1024 * 1024,
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        title="Trusted proxies",
        description=(
            "Addresses or networks (`10.0.0.5`, `10.0.0.0/8`) of reverse proxies whose `X-Forwarded-For` "
            "and `X-Forwarded-Proto` headers are believed. Empty: those headers are ignored."
        ),
        max_length=100,
    )
    rate_limits: RateLimitConfig = Field(
        default_factory=RateLimitConfig,
        title="Rate limits",
        description="Limits on login attempts and on expensive endpoints.",
    )
    webrtc: WebRtcConfig = Field(
        default_factory=WebRtcConfig,
        title="WebRTC live view",
        description="Whether live views are offered over WebRTC, and the STUN/TURN servers it uses.",
    )

    def resolved(self, base_dir: Path) -> ServerConfig:
        """Return a copy with the TLS file paths made absolute against ``base_dir``.

        Args:
            base_dir: The folder of the config file.

        Returns:
            The same settings with absolute paths.
        """
        if self.tls is None:
            return self
        return self.model_copy(update={"tls": self.tls.resolved(base_dir)})

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if _ORIGIN.match(origin) is None:
                raise PydanticCustomError(
                    "cors_origin",
                    "{origin!r} is not an origin: expected scheme://host[:port] without a path (no '*')",
                    {"origin": origin[:200]},
                )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as err:
                raise PydanticCustomError(
                    "trusted_proxy", "{item!r} is not an IP address or network", {"item": item[:200]}
                ) from err
        return value

    @field_validator("tile_url_template")
    @classmethod
    def _tile_placeholders(cls, value: str) -> str:
        missing = [name for name in ("{z}", "{x}", "{y}") if name not in value]
        if missing:
            raise PydanticCustomError(
                "tile_template", "template lacks placeholder(s) {missing}", {"missing": ", ".join(missing)}
            )
        return value
