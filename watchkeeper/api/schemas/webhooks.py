"""Bodies of the webhook-delivery routes (the admin's dead-letter list)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from watchkeeper.domain.integrations import DeliveryPage, DeliveryState, WebhookDelivery


class WebhookDeliveryOut(BaseModel):
    """One outbound webhook delivery (the body itself is not shown)."""

    model_config = ConfigDict(frozen=True)

    id: int
    webhook: str
    event: str
    subject_id: str
    state: DeliveryState
    attempts: int
    last_error: str
    last_status: int | None
    created_at: datetime
    updated_at: datetime | None
    next_attempt_at: datetime

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> WebhookDeliveryOut:
        """The API view of a delivery."""
        return cls(
            id=delivery.id or 0,
            webhook=delivery.webhook,
            event=delivery.event,
            subject_id=delivery.subject_id,
            state=delivery.state,
            attempts=delivery.attempts,
            last_error=delivery.last_error,
            last_status=delivery.last_status,
            created_at=delivery.created_at,
            updated_at=delivery.updated_at,
            next_attempt_at=delivery.next_attempt_at,
        )


class WebhookDeliveryPageOut(BaseModel):
    """One page of deliveries, newest first, and how many match in all."""

    model_config = ConfigDict(frozen=True)

    items: list[WebhookDeliveryOut]
    total: int

    @classmethod
    def of(cls, page: DeliveryPage) -> WebhookDeliveryPageOut:
        """The API view of a page."""
        return cls(items=[WebhookDeliveryOut.of(item) for item in page.items], total=page.total)
