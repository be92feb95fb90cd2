"""Outbound webhook deliveries: the dead-letter list and its retry button (``integrations.manage``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam

from watchkeeper.api.deps import StoreDep
from watchkeeper.api.errors import ERROR_RESPONSES
from watchkeeper.api.policy import AUTH_RESPONSES, Require
from watchkeeper.api.routes.params import MAX_ROW_ID
from watchkeeper.api.schemas.webhooks import WebhookDeliveryOut, WebhookDeliveryPageOut
from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.principal import Principal
from watchkeeper.domain import NotFoundError, WatchkeeperError, utcnow
from watchkeeper.domain.integrations import DeliveryState

router = APIRouter(tags=["webhooks"], responses={**ERROR_RESPONSES, **AUTH_RESPONSES})

AdminDep = Depends(Require(Permission.MANAGE_INTEGRATIONS))
DeliveryIdPath = Annotated[int, PathParam(ge=1, le=MAX_ROW_ID, description="Id of the delivery.")]


class NotADeadLetterError(WatchkeeperError):
    """Only dead letters can be retried by hand (pending ones are retried automatically)."""

    code = "not_a_dead_letter"


@router.get("/api/webhooks/deliveries", operation_id="listWebhookDeliveries")
def list_webhook_deliveries(
    store: StoreDep,
    state: Annotated[DeliveryState | None, Query(description="Only deliveries in this state.")] = None,
    webhook: Annotated[str | None, Query(max_length=64, description="Only this webhook's.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    _admin: Principal = AdminDep,
) -> WebhookDeliveryPageOut:
    """Outbound webhook deliveries, newest first (``state=dead``: the dead letters)."""
    return WebhookDeliveryPageOut.of(store.webhook_deliveries.list(state, webhook, limit, offset))


@router.post("/api/webhooks/deliveries/{delivery_id}/retry", operation_id="retryWebhookDelivery")
def retry_webhook_delivery(
    delivery_id: DeliveryIdPath, store: StoreDep, _admin: Principal = AdminDep
) -> WebhookDeliveryOut:
    """Send a dead letter again (attempts start over; the dispatcher picks it up within a second)."""
    delivery = store.webhook_deliveries.get(delivery_id)
    if delivery is None:
        raise NotFoundError(f"no webhook delivery with id {delivery_id}")
    if delivery.state is not DeliveryState.DEAD:
        raise NotADeadLetterError(f"delivery {delivery_id} is {delivery.state.value}, not a dead letter")
    return WebhookDeliveryOut.of(store.webhook_deliveries.retry(delivery_id, utcnow()))
