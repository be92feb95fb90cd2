"""Liveness."""

from fastapi import APIRouter

from watchkeeper.api.deps import ContextDep
from watchkeeper.api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/api/health", operation_id="health")
def health(context: ContextDep) -> HealthOut:
    """Answer when the API process is up."""
    return HealthOut(version=context.version)
