"""The ``storage`` section: database, media folder and message bus."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from watchkeeper.config.base import ConfigModel
from watchkeeper.config.secrets import SecretUrl

_DB_SCHEME = re.compile(r"^(?P<scheme>sqlite|postgresql)(\+[a-z0-9_]+)?://", re.IGNORECASE)
_SQLITE_PREFIX = "sqlite:///"
_NATS_SCHEME = re.compile(r"^(nats|tls|ws|wss)://[^/\s]+", re.IGNORECASE)


def check_database_url(url: SecretUrl) -> SecretUrl:
    """Accept SQLAlchemy URLs for SQLite and PostgreSQL.

    Args:
        url: The parsed URL.

    Returns:
        ``url`` unchanged when valid.

    Raises:
        PydanticCustomError: Another database or not a URL.
    """
    if _DB_SCHEME.match(url.get_secret_value()) is None:
        raise PydanticCustomError(
            "database_url",
            "expected a sqlite:/// or postgresql:// database URL (SQLAlchemy form, driver suffix allowed)",
        )
    return url


def check_nats_url(url: SecretUrl) -> SecretUrl:
    """Accept nats://, tls://, ws:// and wss:// server URLs.

    Args:
        url: The parsed URL.

    Returns:
        ``url`` unchanged when valid.

    Raises:
        PydanticCustomError: Another scheme or no host.
    """
    if _NATS_SCHEME.match(url.get_secret_value()) is None:
        raise PydanticCustomError("nats_url", "expected a nats://host:port (or tls://, ws://, wss://) URL")
    return url


class LocalBusConfig(ConfigModel):
    """In-process message bus: one host, nothing to run (the default)."""

    type: Literal["local"] = Field(
        default="local", title="Bus type", description="`local`: in-process bus for a single host."
    )


_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class NatsSourceConfig(ConfigModel):
    """One site whose stream the hub's stream sources (on hub nodes only)."""

    domain: str = Field(
        title="Site JetStream domain",
        description="JetStream domain of the site's leaf nats-server (`jetstream { domain: ... }` there).",
        pattern=_NAME_PATTERN,
    )
    site: str | None = Field(
        default=None,
        title="Site token",
        description="The `storage.bus.site` of that site's nodes; empty means the same as `domain`.",
        pattern=_NAME_PATTERN,
    )
    stream: str | None = Field(
        default=None,
        title="Site stream",
        description="Name of the site's stream in its domain; empty means the same as this node's `stream`.",
        pattern=_NAME_PATTERN,
    )

    @property
    def site_token(self) -> str:
        """The site's subject token (``site``, else ``domain``)."""
        return self.site or self.domain


class NatsBusConfig(ConfigModel):
    """NATS JetStream message bus, for several hosts sharing cameras."""

    type: Literal["nats"] = Field(title="Bus type", description="`nats`: NATS JetStream for many hosts.")
    url: Annotated[SecretUrl, AfterValidator(check_nats_url)] = Field(
        default=SecretUrl("nats://127.0.0.1:4222"),
        title="NATS URL",
        description="NATS server URL; credentials in the URL are never shown.",
    )
    stream: str = Field(
        default="watchkeeper",
        title="Stream name",
        description="JetStream stream that holds Watchkeeper messages.",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
    )
    subject_prefix: str = Field(
        default="watchkeeper",
        title="Subject prefix",
        description="Prefix of every subject Watchkeeper publishes on (`<prefix>.<topic>`).",
        pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
        max_length=128,
    )
    site: str | None = Field(
        default=None,
        title="Site token",
        description=(
            "Several sites, each with its own leaf nats-server: the token this node publishes under "
            "(`<prefix>.<site>.<topic>`; its stream then holds only `<prefix>.<site>.>`). Site nodes set "
            "their site's name, hub nodes `hub`. Empty (the default): one site, subjects `<prefix>.<topic>`."
        ),
        pattern=_NAME_PATTERN,
    )
    sources: list[NatsSourceConfig] = Field(
        default_factory=list,
        title="Site streams sourced by the hub",
        description=(
            "On hub nodes: every site whose stream the hub's stream sources across JetStream domains; the "
            "hub resumes each source after a link outage (catch-up without duplicates) and its consumers "
            "see every site's messages. Needs `site`."
        ),
        max_length=1000,
    )
    duplicate_window_s: float = Field(
        default=120.0,
        title="Duplicate window (s)",
        description=(
            "Seconds during which the stream drops a message whose `Nats-Msg-Id` it already stored "
            "(a publish retried after a lost acknowledgement)."
        ),
        ge=1.0,
        le=86_400.0,
    )

    max_age_days: float = Field(
        default=7.0,
        title="Stream: longest kept (days)",
        description=(
            "Messages older than this leave the stream. A site stream must bridge the longest link outage "
            "you plan for: alarms published during a cut reach the hub only while the site still holds them."
        ),
        gt=0.0,
        le=3650.0,
    )
    max_messages: int = Field(
        default=1_000_000,
        title="Stream: most messages",
        description=(
            "The oldest messages go when the stream holds more (about 45 per second at a 100-camera site: "
            "1,000,000 is ~6 hours there; size it for the outage to bridge, see docs/scaling.md)."
        ),
        ge=1000,
        le=10_000_000_000,
    )
    max_bytes: int = Field(
        default=1 << 30,
        title="Stream: most bytes",
        description="The oldest messages go when the stream is larger (messages are ~300-600 bytes).",
        ge=1 << 20,
        le=1 << 50,
    )

    @model_validator(mode="after")
    def _check_sources(self) -> Self:
        if self.sources and self.site is None:
            raise PydanticCustomError(
                "bus_sources", "sources need this node's own site token: set storage.bus.site (e.g. `hub`)"
            )
        tokens = [source.site_token for source in self.sources]
        if self.site in tokens:
            raise PydanticCustomError(
                "bus_sources",
                "source site '{site}' is this node's own site token (storage.bus.site)",
                {"site": self.site},
            )
        for what, values in (("site tokens", tokens), ("domains", [item.domain for item in self.sources])):
            repeated = sorted({value for value in values if values.count(value) > 1})
            if repeated:
                raise PydanticCustomError(
                    "bus_sources",
                    "sources repeat {what}: {values}",
                    {"what": what, "values": ", ".join(repeated)},
                )
        return self


BusConfig = Annotated[LocalBusConfig | NatsBusConfig, Field(discriminator="type")]
"""The bus backend, chosen by its ``type`` key."""


class StorageConfig(ConfigModel):
    """Where metadata and media are stored, and which bus connects the processes.

    Relative paths (in ``database_url`` and ``media_root``) resolve against the folder of the config file.
    """

    database_url: Annotated[SecretUrl, AfterValidator(check_database_url)] = Field(
        default=SecretUrl("sqlite:///var/watchkeeper/watchkeeper.db"),
        title="Database URL",
        description=(
            "SQLAlchemy URL: `sqlite:///relative/or/absolute.db` (embedded, default) or "
            "`postgresql+psycopg://user:pass@host/db`. A relative SQLite path resolves against the "
            "config file's folder."
        ),
    )
    media_root: Path = Field(
        default=Path("var/watchkeeper/media"),
        title="Media folder",
        description="Folder for recorded segments; a relative path resolves against the config folder.",
    )
    bus: BusConfig = Field(
        default_factory=LocalBusConfig,
        title="Message bus",
        description="Message bus backend: `type: local` (default) or `type: nats`.",
    )

    def resolved(self, base_dir: Path) -> StorageConfig:
        """Return a copy with relative paths made absolute against ``base_dir`` (pure path arithmetic).

        Args:
            base_dir: The folder of the config file (should be absolute).

        Returns:
            The same settings with an absolute SQLite path and media root.
        """
        url = self.database_url.get_secret_value()
        if url.lower().startswith(_SQLITE_PREFIX):
            db_path = url[len(_SQLITE_PREFIX) :]
            if db_path and not db_path.startswith((":memory:", "/")) and "mode=memory" not in db_path:
                url = _SQLITE_PREFIX + os.path.normpath(base_dir / db_path)
        media = self.media_root if self.media_root.is_absolute() else base_dir / self.media_root
        database_url = self.database_url if url == self.database_url.get_secret_value() else SecretUrl(url)
        return self.model_copy(
            update={"database_url": database_url, "media_root": Path(os.path.normpath(media))}
        )
