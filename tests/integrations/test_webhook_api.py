"""The dead-letter API: admins list and retry, nobody else learns anything."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.auth.support import fast_passwords, user_token
from tests.integrations.conftest import T0
from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.auth.models import RoleGrant
from watchkeeper.bus.local import LocalBus
from watchkeeper.domain import SiteId
from watchkeeper.domain.integrations import DeliveryState, WebhookDelivery
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, Store, dict[str, dict[str, str]]]]:
    store = open_store(f"sqlite:///{tmp_path / 'wk.db'}")
    headers = {
        "admin": {"Authorization": f"Bearer {user_token(store, 'root', RoleGrant('admin'))}"},
        "site-admin": {
            "Authorization": f"Bearer {user_token(store, 'sa', RoleGrant('admin', frozenset({SiteId('s')})))}"
        },
        "operator": {"Authorization": f"Bearer {user_token(store, 'op', RoleGrant('operator'))}"},
    }
    context = AppContext(
        store=store,
        bus=LocalBus(),
        media_root=tmp_path,
        statuses=StatusBoard(()),
        hub=LiveHub(),
        passwords=fast_passwords(),
    )
    yield TestClient(create_app(context)), store, headers
    store.close()


def add(store: Store, state: DeliveryState, subject: str) -> WebhookDelivery:
    stored = store.webhook_deliveries.add(
        WebhookDelivery("ops", "incident.created", subject, "{}", T0, T0 + timedelta(seconds=1))
    )
    if state is DeliveryState.PENDING:
        return stored
    return store.webhook_deliveries.save(replace(stored, state=state, attempts=8, last_error="HTTP 500"))


def test_admin_lists_dead_letters_and_retries_one(
    api: tuple[TestClient, Store, dict[str, dict[str, str]]],
) -> None:
    client, store, headers = api
    dead = add(store, DeliveryState.DEAD, "inc-dead")
    add(store, DeliveryState.DELIVERED, "inc-done")
    pending = add(store, DeliveryState.PENDING, "inc-wait")
    listed = client.get("/api/webhooks/deliveries", params={"state": "dead"}, headers=headers["admin"])
    assert listed.status_code == 200
    body = listed.json()
    assert body["total"] == 1
    assert body["items"][0]["id"] == dead.id
    assert body["items"][0]["last_error"] == "HTTP 500"
    assert "payload" not in body["items"][0]
    assert client.get("/api/webhooks/deliveries", headers=headers["admin"]).json()["total"] == 3
    retried = client.post(f"/api/webhooks/deliveries/{dead.id}/retry", headers=headers["admin"])
    assert retried.status_code == 200
    assert retried.json()["state"] == "pending"
    assert retried.json()["attempts"] == 0
    again = client.post(f"/api/webhooks/deliveries/{pending.id}/retry", headers=headers["admin"])
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "not_a_dead_letter"
    missing = client.post("/api/webhooks/deliveries/987654/retry", headers=headers["admin"])
    assert missing.status_code == 404


@pytest.mark.parametrize("caller", ["site-admin", "operator", None])
def test_only_a_global_admin_may_see_or_retry(
    api: tuple[TestClient, Store, dict[str, dict[str, str]]], caller: str | None
) -> None:
    client, store, headers = api
    dead = add(store, DeliveryState.DEAD, "inc-dead")
    sent = headers[caller] if caller else {}
    expected = 403 if caller else 401
    assert client.get("/api/webhooks/deliveries", headers=sent).status_code == expected
    assert client.post(f"/api/webhooks/deliveries/{dead.id}/retry", headers=sent).status_code == expected
    assert store.webhook_deliveries.list(DeliveryState.DEAD).total == 1


def test_bad_filters_are_422(api: tuple[TestClient, Store, dict[str, dict[str, str]]]) -> None:
    client, _, headers = api
    assert client.get("/api/webhooks/deliveries?state=lost", headers=headers["admin"]).status_code == 422
    assert client.get("/api/webhooks/deliveries?limit=0", headers=headers["admin"]).status_code == 422
    assert client.post("/api/webhooks/deliveries/0/retry", headers=headers["admin"]).status_code == 422
