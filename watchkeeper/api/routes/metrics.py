"""Prometheus metrics: ``GET /metrics`` in the Prometheus text exposition format (0.0.4)."""

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from watchkeeper.api.deps import ContextDep
from watchkeeper.api.policy import Require
from watchkeeper.auth.permissions import Permission
from watchkeeper.domain import NotFoundError

router = APIRouter(tags=["metrics"])

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@router.get(
    "/metrics",
    include_in_schema=False,
    # Scrape with `authorization: {credentials: <API token>}` of a user holding system.metrics globally.
    dependencies=[Depends(Require(Permission.VIEW_METRICS))],
)
def metrics(context: ContextDep) -> Response:
    """Per-camera throughput, segments, reconnects, stalls, recorder lag and state; storage; evictions."""
    if context.metrics is None:
        raise NotFoundError("metrics are not enabled in this process")
    return Response(content=context.metrics(), media_type=PROMETHEUS_TEXT)
