"""The recording index and segment media."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response

from watchkeeper.api.custody import SERVES_ORIGINALS, audit, serve_original
from watchkeeper.api.deps import ContextDep, StoreDep
from watchkeeper.api.errors import ERROR_RESPONSES
from watchkeeper.api.policy import AUTH_RESPONSES, Require, camera_access
from watchkeeper.api.routes.params import InvalidQueryError, SegmentIdPath, utc_param
from watchkeeper.api.routes.playback import stream_warm_segment
from watchkeeper.api.schemas import SegmentOut
from watchkeeper.audit.log import AuditAction
from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.principal import Principal
from watchkeeper.domain import CameraId, NotFoundError, Rendition

router = APIRouter(tags=["recordings"], responses={**ERROR_RESPONSES, **AUTH_RESPONSES})

RecordingViewer = Annotated[Principal, Depends(Require(Permission.VIEW_RECORDINGS, camera="camera_id"))]


@router.get("/api/recordings", operation_id="listRecordings")
def list_recordings(
    store: StoreDep,
    _principal: RecordingViewer,
    camera_id: Annotated[str, Query(max_length=63, description="Camera whose recordings to list.")],
    start: Annotated[datetime | None, Query(description="Overlapping this start (with zone).")] = None,
    end: Annotated[datetime | None, Query(description="Overlapping this end (with zone).")] = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="At most this many, oldest first.")] = 1000,
) -> list[SegmentOut]:
    """Segments of the camera's protected rendition overlapping ``[start, end)``, oldest first.

    The protected rendition is what every viewer sees; originals are reached only under an unmask grant.
    """
    camera = CameraId(camera_id)
    if store.cameras.get(camera) is None:
        raise NotFoundError(f"no camera with id {camera_id!r}")
    start_utc, end_utc = utc_param("start", start), utc_param("end", end)
    if start_utc is not None and end_utc is not None and end_utc <= start_utc:
        raise InvalidQueryError("end must be after start")
    segments = store.segments.list(
        camera, start=start_utc, end=end_utc, limit=limit, rendition=Rendition.PROTECTED
    )
    return [SegmentOut.of(segment) for segment in segments]


@router.get(
    "/api/recordings/{segment_id}/media",
    operation_id="getRecordingMedia",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}}, "description": "Fragmented MP4 (Range supported)"}},
    openapi_extra=SERVES_ORIGINALS,
)
def recording_media(
    segment_id: SegmentIdPath, request: Request, context: ContextDep, principal: RecordingViewer
) -> Response:
    """The segment file itself (fragmented MP4, plays in a browser ``<video>``)."""
    segment = context.store.segments.get(segment_id)
    missing = f"no recording with id {segment_id}"
    if segment is None:
        raise NotFoundError(missing)
    camera = context.store.cameras.get(segment.camera_id)
    camera_access(principal, camera, segment.camera_id, Permission.VIEW_RECORDINGS, missing)
    files = context.files
    if not files.available(segment):
        raise NotFoundError(f"the file of recording {segment_id} is missing from storage")
    path = files.local_path(segment)
    if segment.rendition is Rendition.ORIGINAL:  # only under an unmask grant, decrypted while streamed
        return serve_original(request, principal, segment, path if path is not None else files.open(segment))
    audit(
        request, principal.username, AuditAction.PLAYBACK, f"camera:{segment.camera_id}", segment=segment_id
    )
    if path is None:  # warm tier: streamed from the bucket with ranged GETs
        return stream_warm_segment(request, files, segment)
    return FileResponse(path, media_type="video/mp4", filename=f"{segment.camera_id}-{segment_id}.mp4")
