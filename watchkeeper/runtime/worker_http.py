"""The small HTTP port of a ``--role worker`` process: health, metrics and segment files; no console.

Health and metrics answer without credentials (a worker has no users of its own): bind the port to a private
address (``server.host``, loopback by default) that only the load balancer's health checks, Prometheus and
the API nodes reach. ``/internal/segments/<path>`` serves a segment file of this worker's media folder, as
stored (an encrypted original stays ciphertext), with ``Range``, only on a link signed with
``cluster.media_secret`` (``media.signing``): the hub API reads a site's hot footage from there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from watchkeeper.api.errors import error_response, install_error_handlers
from watchkeeper.integrations.prometheus import CONTENT_TYPE
from watchkeeper.media.protocol import media_file
from watchkeeper.media.signing import ROUTE_PREFIX, SegmentSignatureError, SignedLink, verify
from watchkeeper.runtime.fleet import CameraFleet
from watchkeeper.runtime.roles import NodeIdentity


class WorkerHealth(BaseModel):
    """What ``GET /api/health`` of a worker says."""

    status: str = Field(description="`ok` while the process runs.")
    role: str = Field(description="`worker`.")
    node: str = Field(description="The worker id (as in `watchkeeper cluster status`).")
    version: str = Field(description="Watchkeeper version.")
    cameras: list[str] = Field(description="Cameras this worker records now, sorted.")
    outbox_depth: int = Field(description="Index rows and events waiting for the shared store.")
    store_reachable: bool = Field(description="False while the shared store does not take writes.")


@dataclass(frozen=True, slots=True)
class WorkerMedia:
    """The worker's media folder and the secret that signs links to its files (None: none served)."""

    root: Path
    secret: str | None


def create_worker_app(
    identity: NodeIdentity,
    fleet: CameraFleet,
    metrics: Callable[[], bytes],
    version: str,
    media: WorkerMedia | None = None,
) -> FastAPI:
    """The worker's health and metrics endpoints, and its signed segment-file route."""
    app = FastAPI(
        title="Watchkeeper worker", version=version, docs_url=None, redoc_url=None, openapi_url=None
    )
    install_error_handlers(app)

    @app.get("/api/health")
    def health() -> JSONResponse:
        outbox = fleet.outbox_stats()
        body = WorkerHealth(
            status="ok",
            role=identity.role.value,
            node=identity.node_id,
            version=version,
            cameras=sorted(fleet.held()),
            outbox_depth=outbox.depth,
            store_reachable=outbox.store_reachable,
        )
        return JSONResponse(body.model_dump())

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(content=metrics(), media_type=CONTENT_TYPE)

    @app.get(ROUTE_PREFIX + "{path:path}")
    def segment_file(path: str, expires: int, sig: str) -> Response:
        secret = media.secret if media is not None else None
        try:
            verify(secret, SignedLink(path, expires, sig), time.time())
        except SegmentSignatureError as err:
            return error_response(403, err.code, str(err))
        found = media_file(media.root, path) if media is not None else None
        if found is None:
            return error_response(404, "segment_file_missing", f"no segment file {path} in this media folder")
        return FileResponse(found, media_type="video/mp4", headers={"Cache-Control": "no-store"})

    return app
