"""Indoor floor plans: an uploaded PNG/JPEG per floor of a site, placed on the map by its corners.

The definitions (name, corners, image file) live in the configuration file under ``sites[].floors`` and are
written through the same :class:`~watchkeeper.config.editor.ConfigEditor` as the other settings, so they
validate with the same models; the images live in the media folder's ``floorplans/``. Viewers see the floors
of the sites they may see (a site grant, or any camera of the site).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field

from watchkeeper.api.context import AppContext
from watchkeeper.api.deps import ContextDep, get_context
from watchkeeper.api.errors import ERROR_RESPONSES, error_response
from watchkeeper.api.policy import AUTH_RESPONSES, Require
from watchkeeper.api.routes.settings import REJECTED_RESPONSE, _edit, _editor
from watchkeeper.api.schemas.settings import ChangeOut
from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.principal import Principal
from watchkeeper.config.base import format_path
from watchkeeper.config.editor import ConfigEditRejected, Document, find_item, merge_into, section_list
from watchkeeper.config.edits import Change
from watchkeeper.config.errors import ConfigProblem
from watchkeeper.config.sites import SLUG_PATTERN, SiteConfig
from watchkeeper.domain import NotFoundError, SiteId, WatchkeeperError

log = logging.getLogger(__name__)

FLOOR_PLAN_FOLDER = "floorplans"
"""Folder of the plan images inside the media folder."""
MAX_PLAN_BYTES = 8 * 1024 * 1024
"""Largest plan image accepted (``server.max_body_bytes`` may refuse a smaller body first, with 413)."""
MAX_PLAN_PIXELS = 40_000_000
"""Largest plan image in pixels (width x height)."""
FORMATS = {"PNG": ("png", "image/png"), "JPEG": ("jpg", "image/jpeg")}
MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg"}

router = APIRouter(tags=["floorplans"], responses={**ERROR_RESPONSES, **AUTH_RESPONSES})
Viewer = Annotated[Principal, Depends(Require(Permission.VIEW_CAMERAS))]
ConfigAdmin = Annotated[Principal, Depends(Require(Permission.MANAGE_CONFIG))]
Latitude = Annotated[float, Query(ge=-90, le=90)]
Longitude = Annotated[float, Query(ge=-180, le=180)]


class NotAnImageError(WatchkeeperError):
    """The uploaded body is not a PNG or JPEG image."""

    code = "not_an_image"


class FloorPlanOut(BaseModel):
    """A floor plan as the map draws it."""

    model_config = ConfigDict(frozen=True)

    site_id: str
    site_name: str
    id: str = Field(description="Floor id; cameras name it in `position.floor`.")
    name: str
    south: float
    west: float
    north: float
    east: float
    image_url: str = Field(description="Where the plan image is served (logged-in viewers of the site).")


class FloorPlacementIn(BaseModel):
    """Name and corners of a floor plan (the image stays as uploaded)."""

    model_config = ConfigDict(frozen=True)

    name: str
    south: float
    west: float
    north: float
    east: float


def _sites(context: AppContext) -> list[SiteConfig]:
    return [] if context.config_editor is None else list(context.config_editor.current().sites)


def _visible(context: AppContext, principal: Principal, site: SiteConfig) -> bool:
    if principal.can(Permission.VIEW_CAMERAS, site.to_domain()):
        return True
    cameras = context.store.cameras.list(SiteId(site.id))
    return any(principal.can(Permission.VIEW_CAMERAS, camera) for camera in cameras)


def _out(site: SiteConfig, floor_id: str) -> FloorPlanOut:
    floor = site.floor(floor_id)
    if floor is None:
        raise NotFoundError(f"site {site.id!r} has no floor {floor_id!r}")
    return FloorPlanOut(
        site_id=site.id,
        site_name=site.name,
        id=floor.id,
        name=floor.name,
        south=floor.south,
        west=floor.west,
        north=floor.north,
        east=floor.east,
        image_url=f"/api/floorplans/{site.id}/{floor.id}/image?v={floor.image.rsplit('.', 1)[0][-8:]}",
    )


@router.get("/api/floorplans", operation_id="listFloorPlans")
def list_floor_plans(context: ContextDep, principal: Viewer) -> list[FloorPlanOut]:
    """The floor plans of the sites you may see, per site bottom floor first."""
    return [
        _out(site, floor.id)
        for site in _sites(context)
        if site.floors and _visible(context, principal, site)
        for floor in site.floors
    ]


@router.get(
    "/api/floorplans/{site_id}/{floor_id}/image",
    operation_id="getFloorPlanImage",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}}, "description": "The plan image"}},
)
def get_floor_plan_image(site_id: str, floor_id: str, context: ContextDep, principal: Viewer) -> FileResponse:
    """The plan image of a floor (PNG or JPEG)."""
    site = next((item for item in _sites(context) if item.id == site_id), None)
    floor = site.floor(floor_id) if site is not None and _visible(context, principal, site) else None
    path = context.media_root / FLOOR_PLAN_FOLDER / floor.image if floor is not None else None
    if path is None or not path.is_file():
        raise NotFoundError(f"no floor plan {floor_id!r} at site {site_id!r}")
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix[1:]], headers={"Cache-Control": "private"})


@router.put(
    "/api/settings/sites/{site_id}/floors/{floor_id}/image",
    operation_id="uploadFloorPlan",
    response_model=ChangeOut,
    responses={
        **REJECTED_RESPONSE,
        413: {"description": "The image is larger than allowed"},
        400: {"description": "The body is not a PNG or JPEG image"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}, "image/jpeg": {}},
        }
    },
)
async def upload_floor_plan(  # noqa: PLR0913 - path, corners and the placement are the request
    site_id: str,
    floor_id: str,
    request: Request,
    admin: ConfigAdmin,
    name: Annotated[str, Query(min_length=1, max_length=80)],
    south: Latitude,
    west: Longitude,
    north: Latitude,
    east: Longitude,
) -> ChangeOut | JSONResponse:
    """Upload (or replace) a floor's plan image with its name and corners; the body is the PNG or JPEG."""
    context = get_context(request)
    data = await request.body()
    if len(data) > MAX_PLAN_BYTES:
        return error_response(413, "payload_too_large", f"a floor plan may be at most {MAX_PLAN_BYTES} bytes")
    extension = _check_image(data)
    if isinstance(extension, JSONResponse):
        return extension
    if not re.fullmatch(SLUG_PATTERN, floor_id):
        message = f"floor id {floor_id!r} must be lower-case letters, digits and dashes (1 to 63)"
        raise ConfigEditRejected([ConfigProblem("", None, "id", message)], "")
    if not any(site.id == site_id for site in _editor(context).current().sites):
        raise NotFoundError(f"no site with id {site_id!r} in the configuration file")
    folder = context.media_root / FLOOR_PLAN_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    image = f"{f'{site_id}-{floor_id}'[:100]}-{hashlib.sha256(data).hexdigest()[:8]}.{extension}"
    path = folder / image
    existed = path.exists()
    path.write_bytes(data)
    values = {"id": floor_id, "name": name, "image": image, "south": south, "west": west, "north": north}
    try:
        # In a worker thread: applying the edit live waits for the event loop this route runs on.
        return await asyncio.to_thread(
            _edit,
            request,
            admin,
            f"floor {floor_id} of site {site_id} uploaded",
            _put_floor(site_id, floor_id, {**values, "east": east}),
        )
    except BaseException:
        if not existed:
            path.unlink(missing_ok=True)
        raise


def _check_image(data: bytes) -> str | JSONResponse:
    """The file extension of a PNG or JPEG image; raises NotAnImageError for anything else."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            found = FORMATS.get(image.format or "")
            width, height = image.size
            image.verify()
    except Image.DecompressionBombError:
        return error_response(
            413, "payload_too_large", f"a floor plan may have at most {MAX_PLAN_PIXELS} pixels"
        )
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise NotAnImageError(
            f"the floor plan is not a readable PNG or JPEG image ({type(err).__name__})"
        ) from None
    if found is None:
        raise NotAnImageError("a floor plan must be a PNG or JPEG image")
    if width * height > MAX_PLAN_PIXELS:
        return error_response(
            413, "payload_too_large", f"a floor plan may have at most {MAX_PLAN_PIXELS} pixels"
        )
    return found[0]


@router.put(
    "/api/settings/sites/{site_id}/floors/{floor_id}",
    operation_id="placeFloorPlan",
    responses=REJECTED_RESPONSE,
)
def place_floor_plan(
    site_id: str, floor_id: str, body: FloorPlacementIn, request: Request, admin: ConfigAdmin
) -> ChangeOut:
    """Rename a floor or move its corners (upload the image first)."""
    values = body.model_dump()
    return _edit(
        request,
        admin,
        f"floor {floor_id} of site {site_id} placed",
        _put_floor(site_id, floor_id, values, create=False),
    )


@router.delete(
    "/api/settings/sites/{site_id}/floors/{floor_id}",
    operation_id="deleteFloorPlan",
    responses=REJECTED_RESPONSE,
)
def delete_floor_plan(site_id: str, floor_id: str, request: Request, admin: ConfigAdmin) -> ChangeOut:
    """Remove a floor from its site (its cameras then show on every floor)."""

    def change(document: Document) -> str:
        sites = section_list(document, "sites")
        index, site = find_item(sites, site_id, "site")
        floors = section_list(site, "floors")
        position, _floor = find_item(floors, floor_id, f"floor of site {site_id}")
        del floors[position]
        return format_path(("sites", index, "floors"))

    return _edit(request, admin, f"floor {floor_id} of site {site_id} removed", change)


def _put_floor(site_id: str, floor_id: str, values: dict[str, object], create: bool = True) -> Change:
    def change(document: Document) -> str:
        sites = section_list(document, "sites")
        index, site = find_item(sites, site_id, "site")
        floors = section_list(site, "floors")
        found = next(
            (n for n, item in enumerate(floors) if isinstance(item, dict) and item.get("id") == floor_id),
            None,
        )
        if found is None:
            if not create:
                raise NotFoundError(f"site {site_id!r} has no floor {floor_id!r}")
            floors.append(Document())
            found = len(floors) - 1
        target = floors[found]
        merged = {key: value for key, value in target.items() if key not in values}
        merge_into(target, {"id": floor_id, **merged, **values})
        return format_path(("sites", index, "floors", found))

    return change
