"""Subjects of a multi-site NATS bus: each site publishes under its own token, the hub sources every site.

Single site (no ``site``): a logical subject ``wk.<topic>`` is ``<prefix>.<topic>`` on the wire, as always.
With ``site`` set, this node publishes ``<prefix>.<site>.<topic>`` into a stream that holds only
``<prefix>.<site>.>``. A hub node also lists its ``sources``: its stream sources each site's stream from that
site's JetStream domain, and its consumers filter ``<prefix>.*.<topic>``, so they see every site's messages
and the hub's own. The hub's subjects never overlap a site's: a site publish crosses the leaf link only
through the sourcing, which stores it once and resumes from the last sourced sequence after an outage.
"""

from __future__ import annotations

from dataclasses import dataclass

from watchkeeper.bus.errors import BusError
from watchkeeper.bus.subjects import ROOT, check_token, parse_pattern


@dataclass(frozen=True, slots=True)
class SiteSource:
    """A site stream that the hub's stream sources across JetStream domains."""

    domain: str
    """JetStream domain of the site's leaf node (its API is ``$JS.<domain>.API``)."""
    stream: str
    """Name of the site's stream in that domain."""
    site: str
    """The site's subject token (its nodes' ``site``)."""

    @property
    def api(self) -> str:
        """The site's JetStream API prefix as seen from the hub."""
        return f"$JS.{self.domain}.API"


@dataclass(frozen=True, slots=True)
class SiteLayout:
    """Where this node publishes (``site``) and which site streams its stream sources (``sources``)."""

    site: str | None = None
    sources: tuple[SiteSource, ...] = ()

    def __post_init__(self) -> None:
        """Check the tokens and that the sources are distinct.

        Raises:
            BusError: one line naming the faulty value.
        """
        try:
            if self.site is not None:
                check_token(self.site, "site")
            for source in self.sources:
                check_token(source.site, "source site")
                check_token(source.domain, "source domain")
        except ValueError as err:
            raise BusError(str(err)) from err
        if self.sources and self.site is None:
            raise BusError("a stream with sources needs this node's own site token (the hub's, e.g. 'hub')")
        tokens = [source.site for source in self.sources]
        if self.site in tokens:
            raise BusError(f"source site {self.site!r} is this node's own site token")
        if len(set(tokens)) != len(tokens):
            raise BusError(f"source site tokens repeat: {', '.join(tokens)}")
        domains = [source.domain for source in self.sources]
        if len(set(domains)) != len(domains):
            raise BusError(f"source domains repeat: {', '.join(domains)}")

    def publish_subject(self, subject: str, prefix: str) -> str:
        """Wire subject of a publish on the logical ``subject``."""
        return self._mapped(subject, prefix, self.site)

    def filter_subject(self, subject: str, prefix: str) -> str:
        """Wire filter of a consumer of the logical ``subject`` (every site's on a hub with sources)."""
        return self._mapped(subject, prefix, "*" if self.sources else self.site)

    def stream_subjects(self, prefix: str) -> list[str]:
        """Subjects of this node's stream (only its own site's when it has a site)."""
        return [f"{prefix}.>" if self.site is None else f"{prefix}.{self.site}.>"]

    @staticmethod
    def _mapped(subject: str, prefix: str, token: str | None) -> str:
        parse_pattern(subject)
        rest = subject[len(ROOT) :]
        return prefix + rest if token is None else f"{prefix}.{token}{rest}"
