"""API side of the chain of custody: auditing requests and serving originals only under a grant.

Routes call :func:`audit` after their policy let the caller in (so refused calls are not logged as use),
and :func:`serve_original` / :func:`original_sources` for footage of the original rendition.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.requests import HTTPConnection

from watchkeeper.api.context import AppContext
from watchkeeper.api.errors import error_response
from watchkeeper.audit.log import AuditAction, DetailValue
from watchkeeper.auth.principal import Principal
from watchkeeper.domain import CameraId, Rendition, Segment, WatchkeeperError
from watchkeeper.domain.custody import GrantRefusedError, GrantScope, NoGrantError
from watchkeeper.privacy.crypto import (
    CHUNK_SIZE,
    DecryptingReader,
    SegmentCryptoError,
    TamperedSegmentError,
    is_encrypted,
)
from watchkeeper.privacy.grants import Actor
from watchkeeper.privacy.services import CustodyServices
from watchkeeper.recorder.export import ClipSource
from watchkeeper.recorder.hls import Mp4Layout, Mp4LayoutError, scan_layout, scan_layout_stream

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

SERVES_ORIGINALS: dict[str, object] = {"x-serves-originals": True}
"""OpenAPI extension on every operation that can return original footage (live or recorded): each refuses
without a covering grant, and the tests try every operation carrying it (plus a content probe of all)."""


class CustodyDisabledError(WatchkeeperError):
    """This process runs without the chain-of-custody services (originals are never served)."""

    code = "custody_unavailable"


def client_address(connection: HTTPConnection) -> str:
    """The client's address as the server sees it."""
    return connection.client.host if connection.client is not None else ""


def actor(connection: HTTPConnection, principal: Principal) -> Actor:
    """The principal as an audit/grant actor with the client address."""
    return Actor(principal.username, client_address(connection))


def custody_of(context: AppContext) -> CustodyServices:
    """The custody services, or ``CustodyDisabledError``."""
    if context.custody is None:
        raise CustodyDisabledError("the chain-of-custody services are not running in this process")
    return context.custody


def audit(
    connection: HTTPConnection,
    username: str,
    action: AuditAction,
    target: str = "",
    **details: DetailValue,
) -> None:
    """Record ``action`` by ``username`` from the connection's client (no-op without custody services)."""
    context = getattr(connection.app.state, "context", None)
    if not isinstance(context, AppContext) or context.custody is None:
        return
    reason = str(details.pop("reason", "") or "")
    context.custody.audit.record(
        username, action, target, client=client_address(connection), reason=reason, details=details
    )


@dataclass(slots=True)
class LiveView:
    """One streamed live view (WebSocket, MJPEG, MSE...): audited when it starts and when it stops.

    ``live.start`` and ``live.stop`` records name the viewer, the camera (target), the client address and
    the rendition; the stop record adds how long the view lasted. Use :meth:`start` when the stream is
    accepted and :meth:`stop` in a ``finally`` (idempotent).
    """

    connection: HTTPConnection
    username: str
    camera_id: CameraId
    rendition: Rendition
    started: float
    stopped: bool = False

    @classmethod
    def start(
        cls,
        connection: HTTPConnection,
        username: str,
        camera_id: CameraId,
        rendition: Rendition = Rendition.PROTECTED,
    ) -> LiveView:
        """Audit the start of a live view and return it."""
        audit(connection, username, AuditAction.LIVE_START, f"camera:{camera_id}", rendition=rendition.value)
        return cls(connection, username, camera_id, rendition, time.monotonic())

    def stop(self, why: str = "") -> None:
        """Audit the end of the view with its duration (once)."""
        if self.stopped:
            return
        self.stopped = True
        audit(
            self.connection,
            self.username,
            AuditAction.LIVE_STOP,
            f"camera:{self.camera_id}",
            rendition=self.rendition.value,
            duration_s=round(time.monotonic() - self.started, 3),
            ended=why,
        )


def authorize_original(
    request: Request, principal: Principal, camera_id: CameraId, start: datetime, end: datetime
) -> CustodyServices:
    """Check (and audit the use of) an unmask grant covering the camera and range.

    Raises:
        NoGrantError: Without a covering grant (or without custody services).
    """
    context = request.app.state.context
    if not isinstance(context, AppContext) or context.custody is None:
        raise NoGrantError("originals cannot be served: this process runs without unmask grants")
    context.custody.grants.authorize(actor(request, principal), camera_id, start, end, GrantScope.RECORDINGS)
    return context.custody


def _report_tamper(custody: CustodyServices, request: Request, path: Path, err: TamperedSegmentError) -> None:
    custody.audit.record(
        "system",
        AuditAction.SEGMENT_TAMPERED,
        f"file:{path.name}",
        client=client_address(request),
        details={"error": str(err)},
    )


def original_layout(request: Request, custody: CustodyServices, path: Path) -> Mp4Layout:
    """The fMP4 layout of an original's plaintext, for an HLS playlist of originals.

    Only the chunks holding box headers are decrypted, in memory. Byte offsets are of the plaintext, which
    :func:`serve_original` serves.

    Raises:
        Mp4LayoutError: Not a fragmented MP4, unreadable, or failed authentication (then also audited and
            logged as tampering).
    """
    if not is_encrypted(path):
        return scan_layout(path)
    try:
        with custody.open_original(path) as reader:
            return scan_layout_stream(reader, reader.size, path.name)  # type: ignore[arg-type]
    except TamperedSegmentError as err:
        _report_tamper(custody, request, path, err)
        raise Mp4LayoutError(str(err)) from err
    except SegmentCryptoError as err:
        raise Mp4LayoutError(str(err)) from err


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:
        start = max(0, size - int(last))
        return start, size
    start = int(first)
    end = min(size, int(last) + 1) if last else size
    return (start, end) if start < end else None


def serve_original(
    request: Request, principal: Principal, segment: Segment, path: Path | BinaryIO
) -> Response:
    """An original segment under a grant: decrypted and streamed (Range supported), never via a temp file.

    ``path`` is the local file, or an open reader of a segment in the warm tier.

    Raises:
        NoGrantError: Without a grant covering the segment.
        TamperedSegmentError: The file fails authentication (audited, nothing served).
    """
    custody = authorize_original(request, principal, segment.camera_id, segment.start, segment.end)
    if not is_encrypted(path):
        if isinstance(path, Path):
            return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": "no-store"})
        return StreamingResponse(_blocks(path), media_type="video/mp4", headers={"Cache-Control": "no-store"})
    name = path if isinstance(path, Path) else Path(segment.path)
    try:
        reader = custody.open_original(path)
    except TamperedSegmentError as err:
        _report_tamper(custody, request, name, err)
        raise
    size = reader.size
    wanted = _byte_range(request.headers.get("range"), size)
    start, end = wanted if wanted is not None else (0, size)
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "no-store", "Content-Length": str(end - start)}
    if wanted is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    try:  # authenticate every chunk of the range first: a tampered file is refused, never half-served
        chunk_size = reader.header.chunk_size
        for index in range(start // chunk_size, max(start, end - 1) // chunk_size + 1):
            reader.chunk(index)
    except TamperedSegmentError as err:
        reader.close()
        _report_tamper(custody, request, name, err)
        raise
    return StreamingResponse(
        _stream(reader, start, end),
        status_code=206 if wanted else 200,
        media_type="video/mp4",
        headers=headers,
    )


def _blocks(handle: BinaryIO) -> Iterator[bytes]:
    try:
        while block := handle.read(CHUNK_SIZE):
            yield block
    finally:
        handle.close()


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The ``[start, end)`` a ``Range: bytes=...`` header asks of ``size`` bytes (``None``: whole body)."""
    return _byte_range(header, size)


def _stream(reader: DecryptingReader, start: int, end: int) -> Iterator[bytes]:
    try:
        yield from reader.iter_range(start, end)
    finally:
        reader.close()


def original_sources(
    request: Request,
    principal: Principal,
    camera_id: CameraId,
    start: datetime,
    end: datetime,
) -> tuple[CustodyServices, Rendition]:
    """Authorize originals of a range for a clip or playlist; returns the services and the rendition."""
    return authorize_original(request, principal, camera_id, start, end), Rendition.ORIGINAL


def clip_source(custody: CustodyServices | None, source: ClipSource) -> ClipSource:
    """``source``, decrypting in memory when its file (local or warm) is encrypted."""
    opener = source.opener
    if custody is None or custody.keys is None:
        return source
    if opener is None:
        path = source.path
        if is_encrypted(path):
            return ClipSource(source.segment, path, lambda: custody.buffered(path))
        return source
    with opener() as probe:
        encrypted = is_encrypted(probe)
    if encrypted:
        return ClipSource(source.segment, source.path, lambda: custody.buffered(opener()))
    return source


async def _custody_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, WatchkeeperError):
        raise TypeError(type(exc).__name__)
    status = 400
    if isinstance(exc, NoGrantError):
        status = 403
    elif isinstance(exc, GrantRefusedError | TamperedSegmentError):
        status = 409
    elif isinstance(exc, CustodyDisabledError | SegmentCryptoError):
        status = 503
    return error_response(status, exc.code, str(exc))


def install_custody_errors(app: FastAPI) -> None:
    """Map custody errors: 403 without a grant, 409 refused grant step or tampered file, 503 unavailable."""
    for kind in (NoGrantError, GrantRefusedError, SegmentCryptoError, CustodyDisabledError):
        app.add_exception_handler(kind, _custody_error)
