"""Playback: HLS over any time range, MP4 clips, the timeline bar and the latest snapshot of a camera."""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask

from watchkeeper.analyzers.snapshot import snapshot_path
from watchkeeper.api.context import AppContext
from watchkeeper.api.custody import (
    SERVES_ORIGINALS,
    audit,
    authorize_original,
    byte_range,
    clip_source,
    original_layout,
    serve_original,
)
from watchkeeper.api.deps import ContextDep
from watchkeeper.api.errors import ERROR_RESPONSES
from watchkeeper.api.files import media_file
from watchkeeper.api.policy import AUTH_RESPONSES, Require, camera_access
from watchkeeper.api.routes.params import InvalidQueryError, SegmentIdPath, utc_param
from watchkeeper.api.schemas import ErrorOut
from watchkeeper.api.schemas.playback import TimelineOut
from watchkeeper.audit.log import AuditAction
from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.principal import Principal
from watchkeeper.domain import CameraId, NotFoundError, Rendition, Segment, utcnow
from watchkeeper.media.protocol import ObjectStoreError, SegmentFiles, SegmentUnavailableError
from watchkeeper.privacy.services import CustodyServices
from watchkeeper.recorder.export import MAX_CLIP_SECONDS, ClipError, ClipSource, NoFootageError, cut_clip
from watchkeeper.recorder.hls import (
    Mp4Layout,
    Mp4LayoutError,
    build_playlist,
    playlist_entries,
    scan_layout,
    scan_layout_stream,
)
from watchkeeper.recorder.timeline import MAX_BUCKETS, bucket_count, build_timeline, default_resolution_s

log = logging.getLogger(__name__)

MAX_HLS_SECONDS = 24 * 3600.0
"""Longest range one playlist covers."""
MAX_TIMELINE_SECONDS = 31 * 24 * 3600.0
"""Longest range one timeline covers."""
MAX_TIMELINE_EVENTS = 2000
"""Most event markers one timeline carries."""
SEGMENT_PAGE = 5000
EARLIEST = datetime.fromisoformat("2000-01-01T00:00:00+00:00")
MEDIA_TYPE_HLS = "application/vnd.apple.mpegurl"

router = APIRouter(
    tags=["playback"],
    responses={
        **ERROR_RESPONSES,
        **AUTH_RESPONSES,
        400: {"model": ErrorOut, "description": "Unacceptable range"},
    },
)

Player = Annotated[Principal, Depends(Require(Permission.VIEW_RECORDINGS, camera="camera_id"))]
"""May play the camera named by the ``camera_id`` path parameter (or, without one, some camera)."""
Exporter = Annotated[Principal, Depends(Require(Permission.EXPORT, camera="camera_id"))]
LiveViewer = Annotated[Principal, Depends(Require(Permission.VIEW_LIVE, camera="camera_id"))]

StartQuery = Annotated[datetime, Query(description="Range start, with a time zone (e.g. `...Z`).")]
RenditionQuery = Annotated[
    Rendition,
    Query(
        description=(
            "`protected` (default): the redacted rendition every viewer sees; `original`: only under an "
            "unmask grant covering the camera and range."
        )
    ),
]
EndQuery = Annotated[datetime, Query(description="Range end (exclusive), with a time zone.")]


@dataclass(frozen=True, slots=True)
class RenditionChoice:
    """The rendition a request asked for, with the request (an original needs its grant checked)."""

    request: Request
    rendition: Rendition

    def sources(
        self, principal: Principal, camera: CameraId, start: datetime, end: datetime
    ) -> CustodyServices | None:
        """The custody services when originals were asked for (grant checked and audited), else ``None``.

        Raises:
            NoGrantError: Originals were asked for without an unmask grant covering camera and range.
        """
        if self.rendition is Rendition.ORIGINAL:
            return authorize_original(self.request, principal, camera, start, end)
        return None


def _rendition_choice(request: Request, rendition: RenditionQuery = Rendition.PROTECTED) -> RenditionChoice:
    return RenditionChoice(request, rendition)


Chosen = Annotated[RenditionChoice, Depends(_rendition_choice)]
"""Which rendition to serve: the protected one unless ``rendition=original`` (under an unmask grant)."""


class RangeTooLongError(InvalidQueryError):
    """The requested range is longer than the endpoint serves in one request."""

    code = "range_too_long"


def _camera(context: AppContext, camera_id: str) -> CameraId:
    camera = CameraId(camera_id)
    if context.store.cameras.get(camera) is None:
        raise NotFoundError(f"no camera with id {camera_id!r}")
    return camera


def _range(start: datetime, end: datetime | None, max_seconds: float) -> tuple[datetime, datetime]:
    """Validate a query range; a missing end means now."""
    start_utc = utc_param("start", start)
    end_utc = utc_param("end", end) if end is not None else utcnow()
    if start_utc is None or end_utc is None:
        raise InvalidQueryError("start is required")
    if start_utc < EARLIEST:
        raise InvalidQueryError(f"start must be after {EARLIEST.date().isoformat()}")
    if end_utc <= start_utc:
        raise InvalidQueryError("end must be after start")
    if (end_utc - start_utc).total_seconds() > max_seconds:
        raise RangeTooLongError(f"the range may be at most {max_seconds:g} s long")
    return start_utc, end_utc


def _segments(
    context: AppContext,
    camera: CameraId,
    start: datetime,
    end: datetime,
    rendition: Rendition = Rendition.PROTECTED,
) -> list[Segment]:
    """Every segment of ``rendition`` overlapping ``[start, end)``, oldest first (paged through the index)."""
    found: dict[int, Segment] = {}
    cursor = start
    while True:
        page = context.store.segments.list(
            camera, start=cursor, end=end, limit=SEGMENT_PAGE, rendition=rendition
        )
        fresh = [segment for segment in page if segment.id is not None and segment.id not in found]
        for segment in fresh:
            if segment.id is not None:
                found[segment.id] = segment
        if len(page) < SEGMENT_PAGE or not fresh:
            break
        cursor = max(cursor, max(segment.start for segment in page))
    return sorted(found.values(), key=lambda s: (s.start, s.id or 0))


def _layout(context: AppContext, segment: Segment, scan: Callable[[Path], Mp4Layout]) -> Mp4Layout | None:
    files = context.files
    path = files.local_path(segment)
    if segment.id is None or not files.available(segment):
        return None

    def scan_warm() -> Mp4Layout:
        with files.open(segment) as handle:
            size = handle.seek(0, io.SEEK_END)
            handle.seek(0)
            return scan_layout_stream(handle, size, segment.path)

    try:
        source = functools.partial(scan, path) if path is not None else scan_warm
        return context.hls_layouts.get(segment.id, source)
    except (Mp4LayoutError, ObjectStoreError, SegmentUnavailableError) as err:
        log.warning("segment %s left out of a playlist: %s", segment.id, err)
        return None


@router.get(
    "/api/cameras/{camera_id}/hls.m3u8",
    operation_id="getCameraPlaylist",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPE_HLS: {}}, "description": "HLS media playlist (fMP4)"}},
    openapi_extra=SERVES_ORIGINALS,
)
def camera_playlist(
    camera_id: str,
    context: ContextDep,
    principal: Player,
    chosen: Chosen,
    start: StartQuery,
    end: Annotated[
        datetime | None, Query(description="Range end (exclusive); omitted: up to now, still growing.")
    ] = None,
) -> Response:
    """An HLS playlist of the camera's recording over the range (VOD; EVENT when ``end`` is omitted).

    The protected rendition unless ``rendition=original`` (under an unmask grant; encrypted originals are
    decrypted while their segments are served, and one that fails authentication is left out and audited).
    """
    camera = _camera(context, camera_id)
    start_utc, end_utc = _range(start, end, MAX_HLS_SECONDS)
    custody = chosen.sources(principal, camera, start_utc, end_utc)
    scan: Callable[[Path], Mp4Layout] = scan_layout
    if custody is not None:
        scan = functools.partial(original_layout, chosen.request, custody)
    segments = _segments(context, camera, start_utc, end_utc, chosen.rendition)
    entries = playlist_entries(
        segments,
        lambda segment: _layout(context, segment, scan),
        lambda segment: f"/api/recordings/{segment.id}/media.mp4",
    )
    if not entries:
        raise NoFootageError("no footage recorded in the requested range")
    body = build_playlist(entries, complete=end is not None)
    return Response(body, media_type=MEDIA_TYPE_HLS, headers={"Cache-Control": "no-cache"})


@router.get(
    "/api/recordings/{segment_id}/media.mp4",
    operation_id="getRecordingMediaMp4",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}}, "description": "Fragmented MP4 (Range supported)"}},
    openapi_extra=SERVES_ORIGINALS,
)
def recording_media_mp4(
    segment_id: SegmentIdPath, request: Request, context: ContextDep, principal: Player
) -> Response:
    """The segment file under a name ending in ``.mp4``, as HLS players (FFmpeg) expect of segment URLs."""
    segment = context.store.segments.get(segment_id)
    if segment is not None:
        camera = context.store.cameras.get(segment.camera_id)
        missing = f"no recording file with id {segment_id}"
        camera_access(principal, camera, segment.camera_id, Permission.VIEW_RECORDINGS, missing)
    files = context.files
    if segment is None or not files.available(segment):
        raise NotFoundError(f"no recording file with id {segment_id}")
    path = files.local_path(segment)
    if segment.rendition is Rendition.ORIGINAL:  # only under an unmask grant, decrypted while streamed
        return serve_original(request, principal, segment, path if path is not None else files.open(segment))
    audit(
        request, principal.username, AuditAction.PLAYBACK, f"camera:{segment.camera_id}", segment=segment_id
    )
    if path is not None:
        return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": "max-age=86400"})
    return stream_warm_segment(request, files, segment)


def stream_warm_segment(request: Request, files: SegmentFiles, segment: Segment) -> Response:
    """A segment of the warm tier streamed from the bucket with ranged GETs (``Range`` honoured)."""
    size = files.size(segment)
    wanted = byte_range(request.headers.get("range"), size)
    start, end = wanted if wanted is not None else (0, size)
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "max-age=86400",
        "Content-Length": str(end - start),
    }
    if wanted is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return StreamingResponse(
        files.iter_range(segment, start, end),
        status_code=206 if wanted is not None else 200,
        media_type="video/mp4",
        headers=headers,
    )


def _clip_name(camera: CameraId, start: datetime) -> str:
    return f"{camera}-{start.strftime('%Y%m%dT%H%M%SZ')}.mp4"


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _clip_sources(context: AppContext, segments: Sequence[Segment]) -> list[ClipSource]:
    files = context.files
    sources = []
    for segment in segments:
        path = files.local_path(segment)
        if path is not None:
            sources.append(ClipSource(segment, path))
        elif files.available(segment):  # warm: PyAV reads the object through ranged GETs
            sources.append(ClipSource(segment, Path(segment.path), partial(files.open, segment)))
    return sources


@router.get(
    "/api/cameras/{camera_id}/clip.mp4",
    operation_id="getCameraClip",
    response_class=FileResponse,
    responses={
        200: {
            "content": {"video/mp4": {}},
            "description": "MP4 clip; `X-Clip-Start`/`X-Clip-End` give the times it really covers.",
            "headers": {
                "X-Clip-Start": {"description": "Wall-clock time of the first frame (ISO 8601 UTC)."},
                "X-Clip-End": {"description": "Wall-clock end of the last frame (ISO 8601 UTC)."},
            },
        }
    },
    openapi_extra=SERVES_ORIGINALS,
)
def camera_clip(
    camera_id: str,
    chosen: Chosen,
    context: ContextDep,
    principal: Exporter,
    start: StartQuery,
    end: EndQuery,
) -> FileResponse:
    """One MP4 of the range, remuxed from the recording, starting at the keyframe at or before ``start``.

    Cut from the protected rendition unless ``rendition=original`` (under an unmask grant).
    """
    camera = _camera(context, camera_id)
    start_utc, end_utc = _range(start, end, MAX_CLIP_SECONDS)
    custody = chosen.sources(principal, camera, start_utc, end_utc)
    request = chosen.request
    audit(
        request,
        principal.username,
        AuditAction.CLIP,
        f"camera:{camera}",
        start=_iso(start_utc),
        end=_iso(end_utc),
    )
    segments = _segments(context, camera, start_utc, end_utc, chosen.rendition)
    sources = [clip_source(custody, source) for source in _clip_sources(context, segments)]
    output = _clip_file(context.media_root / ".clips")
    try:
        result = cut_clip(sources, start_utc, end_utc, output)
    except BaseException:
        output.unlink(missing_ok=True)
        raise
    headers = {
        "X-Clip-Start": _iso(result.start),
        "X-Clip-End": _iso(result.end),
        "Cache-Control": "no-store",
    }
    return FileResponse(
        result.path,
        media_type="video/mp4",
        filename=_clip_name(camera, result.start),
        headers=headers,
        background=BackgroundTask(_remove, result.path),
    )


def _clip_file(folder: Path) -> Path:
    """A fresh, empty file for a clip being cut."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="clip-", suffix=".mp4", dir=folder)
        os.close(handle)
    except OSError as err:
        raise ClipError(f"cannot create a clip file in {folder.name}: {err.strerror or err}") from err
    return Path(name)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


@router.get("/api/cameras/{camera_id}/timeline", operation_id="getCameraTimeline")
def camera_timeline(
    camera_id: str,
    context: ContextDep,
    _principal: Player,
    start: StartQuery,
    end: EndQuery,
    resolution_s: Annotated[
        float | None,
        Query(gt=0, le=86400, description="Merge segments closer than this; default: range / 1000."),
    ] = None,
) -> TimelineOut:
    """Recorded spans, gaps and event markers of a camera over the range, for a timeline bar."""
    camera = _camera(context, camera_id)
    start_utc, end_utc = _range(start, end, MAX_TIMELINE_SECONDS)
    resolution = resolution_s if resolution_s is not None else default_resolution_s(start_utc, end_utc)
    if bucket_count(start_utc, end_utc, resolution) > MAX_BUCKETS:
        raise RangeTooLongError(
            f"the range holds more than {MAX_BUCKETS} steps of {resolution:g} s; raise resolution_s"
        )
    timeline = build_timeline(_segments(context, camera, start_utc, end_utc), start_utc, end_utc, resolution)
    found = context.store.events.list(camera_id=camera, since=start_utc, limit=MAX_TIMELINE_EVENTS + 1)
    events = sorted((event for event in found if event.start < end_utc), key=lambda event: event.start)
    truncated = len(found) > MAX_TIMELINE_EVENTS
    return TimelineOut.of(camera, timeline, events[:MAX_TIMELINE_EVENTS], events_truncated=truncated)


@router.get(
    "/api/cameras/{camera_id}/latest.jpg",
    operation_id="getCameraSnapshot",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The newest analysed frame"}},
)
def camera_snapshot(camera_id: str, request: Request, context: ContextDep, principal: LiveViewer) -> Response:
    """The newest analysed frame of the camera (JPEG, detect-stream size, never cached)."""
    camera = _camera(context, camera_id)
    if context.live_views.starts_view(principal.username, camera, time.monotonic()):
        audit(request, principal.username, AuditAction.LIVE_SNAPSHOT, f"camera:{camera}")
    path = media_file(context.media_root, snapshot_path(context.media_root, camera))
    if path is None:  # refuses links leading outside the media root
        raise NoSnapshotError(f"camera {camera_id!r} has no snapshot yet")
    try:
        # Read whole (a few tens of kB): the writer replaces the file atomically, never in place.
        data = path.read_bytes()
    except OSError as err:
        raise NoSnapshotError(f"camera {camera_id!r} has no snapshot yet") from err
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


class NoSnapshotError(NotFoundError):
    """The camera has not produced an analysed frame yet."""

    code = "no_snapshot"
