"""HTTP hardening around the whole application: security headers, body size limit, rate limits, CORS.

One pure-ASGI middleware (:class:`SecurityMiddleware`) wraps every HTTP request:

* **Rate limits.** Token buckets on ``POST /api/auth/login`` (per client address) and on the expensive
  endpoints listed in :data:`EXPENSIVE_PATHS` (clip exports, searches: per client address *and* per
  credential, i.e. session cookie or API token). An empty bucket answers ``429`` ``rate_limited`` with
  ``Retry-After``.
* **Body size.** A body over ``server.max_body_bytes`` is refused with ``413`` ``payload_too_large``,
  from ``Content-Length`` when the client sends one, else while reading (the body is never read past the
  limit).
* **Headers.** Every response carries a strict Content-Security-Policy (no ``unsafe-inline``, no third-party
  origins except the configured map tile server), ``frame-ancestors 'none'``, ``nosniff``, a
  ``no-referrer`` policy, a Permissions-Policy that switches off powerful browser features, and HSTS when
  the request came over HTTPS.

CORS is off unless ``server.cors_origins`` lists origins (then only those, with credentials). The client
address is the TCP peer, or what a *trusted* reverse proxy says (``server.trusted_proxies``, applied by
uvicorn before this middleware runs).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from watchkeeper.api.errors import error_response
from watchkeeper.api.schemas import ErrorOut
from watchkeeper.config.server import RateLimitConfig, ServerConfig

LOGIN_PATH = "/api/auth/login"
SESSION_COOKIE = "wk_session"
EXPENSIVE_PATHS = (
    re.compile(r"^/api/cameras/[^/]+/clip\.mp4$"),
    re.compile(r"^/api/exports(/.*)?$"),
    re.compile(r"^/api/search(/.*)?$"),
)
"""Endpoints that cost real CPU or disk per request (remuxing clips, exports, searches)."""
MAX_TRACKED_KEYS = 65536
"""Most buckets kept per limit; the least recently used are forgotten first."""
HSTS_VALUE = "max-age=31536000; includeSubDomains"
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), "
    "payment=(), usb=(), interest-cohort=()"
)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FLOOR_PLAN_UPLOAD = re.compile(r"^/api/settings/sites/[^/]+/floors/[^/]+/image$")
"""The one upload route whose bodies (floor plan images) may exceed ``server.max_body_bytes``."""
FLOOR_PLAN_MAX_BYTES = 8 * 1024 * 1024
"""The body limit of a floor plan upload (the route checks the same figure itself)."""

Clock = Callable[[], float]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Token buckets keyed by an arbitrary string: ``burst`` tokens, refilled at ``rate_per_s``."""

    def __init__(self, rate_per_s: float, burst: int, clock: Clock = time.monotonic) -> None:
        """Create empty state; a key seen for the first time starts with a full bucket."""
        self._rate = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> float:
        """Take one token for ``key``.

        Returns:
            ``0.0`` when a token was taken, else the seconds until one is available (nothing taken).
        """
        now = self._clock()
        bucket = self._buckets.pop(key, None) or _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        self._buckets[key] = bucket
        while len(self._buckets) > MAX_TRACKED_KEYS:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self._rate


class RateLimiter:
    """The login and expensive-endpoint limits of one application."""

    def __init__(self, config: RateLimitConfig, clock: Clock = time.monotonic) -> None:
        """Create the buckets from the ``server.rate_limits`` settings."""
        self.enabled = config.enabled
        self._login = TokenBuckets(config.login_per_minute / 60.0, config.login_burst, clock)
        self._expensive = TokenBuckets(config.expensive_per_minute / 60.0, config.expensive_burst, clock)

    def check(self, method: str, path: str, client: str, credential: str | None) -> float:
        """Seconds the client must wait before this request is allowed; ``0.0`` when it may go ahead."""
        if not self.enabled or method == "OPTIONS":
            return 0.0
        if method == "POST" and path == LOGIN_PATH:
            return self._login.take(f"addr:{client}")
        if not is_expensive(path):
            return 0.0
        waits = [self._expensive.take(f"addr:{client}")]
        if credential is not None:
            waits.append(self._expensive.take(f"cred:{credential}"))
        return max(waits)


def is_expensive(path: str) -> bool:
    """True when ``path`` (a request path or an OpenAPI path template) is rate limited as expensive."""
    return any(pattern.match(path) for pattern in EXPENSIVE_PATHS)


def content_security_policy(tile_url_template: str) -> str:
    """The CSP of every response: same-origin only, no inline script or style, never framed.

    Args:
        tile_url_template: The map tile URL; an absolute one adds its origin to ``img-src``.

    Returns:
        The header value.
    """
    images = ["'self'", "data:", "blob:"]
    parts = urlsplit(tile_url_template)
    if parts.scheme in ("http", "https") and parts.netloc:
        images.append(f"{parts.scheme}://{parts.netloc}")
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src {' '.join(images)}",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


class PayloadTooLargeError(Exception):
    """Internal signal: the request body went over the limit while being read."""


class SecurityMiddleware:
    """Pure ASGI middleware applying the rate limits, the body limit and the security headers."""

    def __init__(self, app: ASGIApp, settings: ServerConfig, clock: Clock = time.monotonic) -> None:
        """Wrap ``app`` with the limits and headers configured in ``settings``."""
        self.app = app
        self.max_body = settings.max_body_bytes
        self.limiter = RateLimiter(settings.rate_limits, clock)
        self.csp = content_security_policy(settings.tile_url_template).encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._with_headers(scope, send)
        wait = self.limiter.check(scope["method"], scope["path"], _client(scope), _credential(scope))
        if wait > 0:
            retry = max(1, math.ceil(wait))
            response = error_response(429, "rate_limited", f"too many requests; try again in {retry} s")
            response.headers["Retry-After"] = str(retry)
            await response(scope, receive, send)
            return
        limit = self._limit(scope)
        try:
            receive = await self._bounded_body(scope, receive, limit)
        except PayloadTooLargeError:
            response = error_response(
                413, "payload_too_large", f"the request body is larger than {limit} bytes"
            )
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _limit(self, scope: Scope) -> int:
        """The body limit of this request: ``max_body``, raised for a floor plan upload."""
        if scope["method"] == "PUT" and FLOOR_PLAN_UPLOAD.match(scope["path"]):
            return max(self.max_body, FLOOR_PLAN_MAX_BYTES)
        return self.max_body

    async def _bounded_body(self, scope: Scope, receive: Receive, limit: int) -> Receive:
        """Read the body up front (at most ``limit`` bytes) and return a receive that replays it."""
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise PayloadTooLargeError
        if (
            scope["method"] not in UNSAFE_METHODS
            and declared is None
            and _header(scope, b"transfer-encoding") is None
        ):
            return receive
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return _replay([message], receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return _replay([{"type": "http.request", "body": b"".join(chunks), "more_body": False}], receive)

    def _with_headers(self, scope: Scope, send: Send) -> Send:
        secure = scope.get("scheme") == "https"
        extra = [
            (b"content-security-policy", self.csp),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"permissions-policy", PERMISSIONS_POLICY.encode("latin-1")),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"cross-origin-resource-policy", b"same-origin"),
        ]
        if secure:
            extra.append((b"strict-transport-security", HSTS_VALUE.encode("latin-1")))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                headers = list(message.get("headers", []))
                headers.extend(item for item in extra if item[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        return send_with_headers


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1").strip()
    return None


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _credential(scope: Scope) -> str | None:
    """A short digest of the request's credential (bearer token or session cookie), never the value."""
    value = _header(scope, b"authorization")
    if value is None:
        cookies = _header(scope, b"cookie") or ""
        for part in cookies.split(";"):
            name, _, cookie = part.strip().partition("=")
            if name == SESSION_COOKIE and cookie:
                value = cookie
                break
    if not value:
        return None
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:32]


def install_security(app: FastAPI, settings: ServerConfig) -> None:
    """Add CORS (only when origins are configured) and :class:`SecurityMiddleware` (outermost) to ``app``.

    Also documents the ``413`` and ``429`` answers in the OpenAPI schema of the operations that can give
    them, so call it after every route is included.
    """
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-CSRF-Token"],
            max_age=600,
        )
    app.add_middleware(SecurityMiddleware, settings=settings)
    _document_limits(app)


def _document_limits(app: FastAPI) -> None:
    """Render the schema now (FastAPI caches it) and add the limit answers; call after every route."""
    _add_limit_responses(app.openapi())


def _add_limit_responses(schema: dict[str, Any]) -> None:
    ref = {"$ref": "#/components/schemas/" + ErrorOut.__name__}
    too_large = {"description": "Request body too large", "content": {"application/json": {"schema": ref}}}
    too_many = {
        "description": "Rate limited; retry after `Retry-After` seconds",
        "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
        "content": {"application/json": {"schema": ref}},
    }
    paths: MutableMapping[str, dict[str, Any]] = schema.get("paths", {})
    for path, operations in paths.items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            if "requestBody" in operation:
                responses.setdefault("413", too_large)
            if (method.upper() == "POST" and path == LOGIN_PATH) or is_expensive(path):
                responses.setdefault("429", too_many)
