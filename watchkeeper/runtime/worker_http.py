"""The small HTTP port of a ``--role worker`` process: ``/api/health`` and ``/metrics``, no console.

Both answer without credentials (a worker has no users of its own): bind the port to a private address
(``server.host``, loopback by default) that only the load balancer's health checks and Prometheus reach.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from watchkeeper.integrations.prometheus import CONTENT_TYPE
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


def create_worker_app(
    identity: NodeIdentity, fleet: CameraFleet, metrics: Callable[[], bytes], version: str
) -> FastAPI:
    """The worker's health and metrics endpoints."""
    app = FastAPI(
        title="Watchkeeper worker", version=version, docs_url=None, redoc_url=None, openapi_url=None
    )

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

    return app
