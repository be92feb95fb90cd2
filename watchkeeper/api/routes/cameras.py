"""Cameras and their live state."""

from typing import Annotated

from fastapi import APIRouter, Depends

from watchkeeper.api.deps import ContextDep
from watchkeeper.api.errors import ERROR_RESPONSES
from watchkeeper.api.policy import AUTH_RESPONSES, Require
from watchkeeper.api.schemas import CameraOut
from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.principal import Principal
from watchkeeper.domain import CameraId, NotFoundError

router = APIRouter(tags=["cameras"], responses={**ERROR_RESPONSES, **AUTH_RESPONSES})

CameraViewer = Annotated[Principal, Depends(Require(Permission.VIEW_CAMERAS))]
ThisCameraViewer = Annotated[Principal, Depends(Require(Permission.VIEW_CAMERAS, camera="camera_id"))]


@router.get("/api/cameras", operation_id="listCameras")
def list_cameras(context: ContextDep, principal: CameraViewer) -> list[CameraOut]:
    """The cameras the caller may see, with their current connection state."""
    cameras = principal.visible_cameras(context.store.cameras.list())
    return [CameraOut.of(camera, context.statuses.get(camera.id)) for camera in cameras]


@router.get("/api/cameras/{camera_id}", operation_id="getCamera")
def get_camera(camera_id: str, context: ContextDep, _principal: ThisCameraViewer) -> CameraOut:
    """One camera with its current connection state."""
    camera = context.store.cameras.get(CameraId(camera_id))
    if camera is None:
        raise NotFoundError(f"no camera with id {camera_id!r}")
    return CameraOut.of(camera, context.statuses.get(camera.id))
