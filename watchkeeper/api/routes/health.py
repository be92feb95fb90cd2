"""Liveness."""

from fastapi import APIRouter, Depends

from watchkeeper.api.deps import ContextDep
from watchkeeper.api.policy import Public
from watchkeeper.api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/api/health", operation_id="health", dependencies=[Depends(Public())])
def health(context: ContextDep) -> HealthOut:
    """Answer when the API process is up."""
    return HealthOut(version=context.version)
