"""Signed inbound alarms from external systems (fire panels, access control).

A request carries ``X-Watchkeeper-Source`` (the configured source id), ``X-Watchkeeper-Timestamp`` (Unix
seconds) and ``X-Watchkeeper-Signature: sha256=<hex>``, the HMAC-SHA256 with the source's secret of
``<timestamp>.`` followed by the raw body. Timestamps outside the source's replay window are refused.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime

from watchkeeper.config.incidents import InboundSourceConfig
from watchkeeper.incidents.errors import InboundAuthError

SOURCE_HEADER = "X-Watchkeeper-Source"
TIMESTAMP_HEADER = "X-Watchkeeper-Timestamp"
SIGNATURE_HEADER = "X-Watchkeeper-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Watchkeeper-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def body_digest(body: bytes) -> str:
    """SHA-256 hex of a body (to tell a replay from a different request reusing a key)."""
    return hashlib.sha256(body).hexdigest()


class InboundVerifier:
    """Checks the source, timestamp and signature of inbound alarms."""

    def __init__(self, sources: Iterable[InboundSourceConfig]) -> None:
        """Accept the configured ``sources``."""
        self._sources = {source.id: source for source in sources}

    def verify(
        self, source_id: str | None, timestamp: str | None, signature: str | None, body: bytes, now: datetime
    ) -> InboundSourceConfig:
        """The source of a correctly signed, fresh request.

        Raises:
            InboundAuthError: For an unknown source, a missing or stale timestamp, or a wrong signature (the
                message never says which secret or what the right signature would be).
        """
        source = self._sources.get(source_id or "")
        if source is None:
            raise InboundAuthError(f"unknown or missing {SOURCE_HEADER}")
        try:
            sent = int(timestamp or "")
        except ValueError as err:
            raise InboundAuthError(f"{TIMESTAMP_HEADER} must be Unix seconds") from err
        if abs(now.timestamp() - sent) > source.max_skew_s:
            raise InboundAuthError(f"{TIMESTAMP_HEADER} is outside the {source.max_skew_s} s replay window")
        expected = sign(source.secret.get_secret_value(), sent, body)
        if not hmac.compare_digest(expected, signature or ""):
            raise InboundAuthError(f"{SIGNATURE_HEADER} does not match the body")
        return source
