"""Cameras and their live state."""

from fastapi import APIRouter

from watchkeeper.api.deps import ContextDep
from watchkeeper.api.errors import ERROR_RESPONSES
from watchkeeper.api.schemas import CameraOut
from watchkeeper.domain import CameraId, NotFoundError

router = APIRouter(tags=["cameras"], responses=ERROR_RESPONSES)


@router.get("/api/cameras", operation_id="listCameras")
def list_cameras(context: ContextDep) -> list[CameraOut]:
    """All cameras with their current connection state."""
    return [CameraOut.of(camera, context.statuses.get(camera.id)) for camera in context.store.cameras.list()]


@router.get("/api/cameras/{camera_id}", operation_id="getCamera")
def get_camera(camera_id: str, context: ContextDep) -> CameraOut:
    """One camera with its current connection state."""
    camera = context.store.cameras.get(CameraId(camera_id))
    if camera is None:
        raise NotFoundError(f"no camera with id {camera_id!r}")
    return CameraOut.of(camera, context.statuses.get(camera.id))
