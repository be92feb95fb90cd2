"""Signed links to a site worker's segment files: HMAC-SHA256 of the path and an expiry, with a shared secret.

An API node (the hub) asks a worker of a camera's site for a hot segment file with
``GET /internal/segments/<path>?expires=<unix s>&sig=<hex>``; the worker serves it only when the signature
is the HMAC of the path and the expiry (one line each) under ``cluster.media_secret`` and the expiry has not
passed (nor is further ahead than ``MAX_TTL_S``, so a leaked link dies soon). The bytes go out as stored:
an encrypted original stays ciphertext and only the API node decrypts it, under its own grant rules.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote

from watchkeeper.domain import WatchkeeperError

ROUTE_PREFIX = "/internal/segments/"
"""Path of the worker's segment-file route; the segment's path inside the media folder follows."""
TTL_S = 60
"""How long a link an API node makes stays valid."""
MAX_TTL_S = 600
"""A worker refuses a link expiring further ahead than this (however well signed)."""


class SegmentSignatureError(WatchkeeperError):
    """A segment-file link is not signed with this cluster's media secret, or it has expired."""

    code = "segment_link_refused"


@dataclass(frozen=True, slots=True)
class SignedLink:
    """A signed request for one segment file."""

    path: str
    expires: int
    signature: str

    @property
    def target(self) -> str:
        """The request target: route, quoted path and query."""
        return f"{ROUTE_PREFIX}{quote(self.path)}?expires={self.expires}&sig={self.signature}"


def signature(secret: str, path: str, expires: int) -> str:
    """The hex HMAC-SHA256 of ``path`` and ``expires`` under ``secret``."""
    message = f"{path}\n{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, path: str, now: float, ttl_s: int = TTL_S) -> SignedLink:
    """A link to ``path`` valid for ``ttl_s`` seconds from ``now`` (Unix seconds)."""
    expires = int(now) + ttl_s
    return SignedLink(path, expires, signature(secret, path, expires))


def verify(secret: str | None, link: SignedLink, now: float) -> None:
    """Accept ``link`` or raise.

    Raises:
        SegmentSignatureError: No secret configured here, a bad signature, an expired link, or an expiry too
            far ahead.
    """
    if secret is None:
        raise SegmentSignatureError("this worker serves no segment files: cluster.media_secret is not set")
    if not hmac.compare_digest(signature(secret, link.path, link.expires), link.signature):
        raise SegmentSignatureError(
            "the segment link's signature does not match (cluster.media_secret differs?)"
        )
    if link.expires < now:
        raise SegmentSignatureError(f"the segment link expired {int(now - link.expires)} s ago")
    if link.expires > now + MAX_TTL_S:
        raise SegmentSignatureError(f"the segment link expires more than {MAX_TTL_S} s ahead")
