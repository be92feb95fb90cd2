"""Incident pushes over the WebSocket: filtered by the user's sites/cameras, replayed after a reconnect."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from tests.auth.support import fast_passwords, user_token
from tests.integrations.conftest import incident_message
from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import IncidentBroadcaster, LiveHub, StatusBoard
from watchkeeper.auth.models import RoleGrant
from watchkeeper.bus.local import LocalBus
from watchkeeper.bus.messages import IncidentMessage
from watchkeeper.domain import Camera, CameraId, Site, SiteId
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store


@dataclass
class Live:
    client: TestClient
    store: Store
    broadcaster: IncidentBroadcaster
    tokens: dict[str, str]

    def publish(self, message: IncidentMessage) -> int:
        """Journal ``message`` as the broadcaster does (no console is connected at that moment)."""
        push = asyncio.run(self.broadcaster.handle(message))
        assert push.cursor is not None
        return push.cursor

    def connect(self, user: str, since: str | None = None) -> Any:
        query = f"?token={self.tokens[user]}" + (f"&since={since}" if since is not None else "")
        return self.client.websocket_connect(f"/api/ws{query}")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    store = open_store(f"sqlite:///{tmp_path / 'wk.db'}")
    for site in ("site-a", "site-b"):
        store.sites.upsert(Site(SiteId(site), site))
    store.cameras.upsert(Camera(CameraId("a1"), "A1", SiteId("site-a")))
    store.cameras.upsert(Camera(CameraId("b1"), "B1", SiteId("site-b")))
    tokens = {
        "admin": user_token(store, "admin", RoleGrant("admin")),
        "a-operator": user_token(store, "a-operator", RoleGrant("operator", frozenset({SiteId("site-a")}))),
        "b1-viewer": user_token(store, "b1-viewer", RoleGrant("viewer", cameras=frozenset({CameraId("b1")}))),
    }
    hub = LiveHub()
    context = AppContext(
        store=store,
        bus=LocalBus(),
        media_root=tmp_path,
        statuses=StatusBoard(()),
        hub=hub,
        passwords=fast_passwords(),
    )
    broadcaster = IncidentBroadcaster(context.bus, store.incident_journal, hub, "api-live-test", 3600)
    # No lifespan (no bus followers): live pushes are covered end to end in tests/e2e; these tests cover
    # the journal, the replay and the per-user filtering it shares with live pushes.
    yield Live(TestClient(create_app(context)), store, broadcaster, tokens)
    store.close()


def receive(ws: WebSocketTestSession) -> dict[str, Any]:
    return dict(json.loads(ws.receive_text()))


def replay(live: Live, user: str, since: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The incident messages replayed to ``user`` and the closing cursor message."""
    items = []
    with live.connect(user, since=since) as ws:
        while (item := receive(ws))["type"] == "incident":
            items.append(item)
    return items, item


def test_replay_holds_only_what_each_user_may_see(live: Live) -> None:
    on_a = incident_message(site="site-a", cameras=("a1",))
    on_b = incident_message(site="site-b", cameras=("b1",))
    unplaced = incident_message(site=None, cameras=())
    cursors = [live.publish(m) for m in (on_a, on_b, unplaced)]
    admin, done = replay(live, "admin", "0")
    assert [item["cursor"] for item in admin] == cursors
    assert done == {"type": "cursor", "cursor": cursors[-1], "replayed": 3, "resync": False}
    a_items, _ = replay(live, "a-operator", "0")
    assert [item["incident"]["id"] for item in a_items] == [on_a.incident_id]
    first = a_items[0]
    assert first["change"] == "created"
    assert first["incident"]["site_id"] == "site-a"
    assert first["incident"]["camera_ids"] == ["a1"]
    b_items, _ = replay(live, "b1-viewer", "0")  # through its camera grant only
    assert [item["incident"]["id"] for item in b_items] == [on_b.incident_id]


def test_a_reconnecting_console_gets_only_what_it_missed(live: Live) -> None:
    with live.connect("a-operator", since="now") as ws:
        assert receive(ws) == {"type": "cursor", "cursor": 0, "replayed": 0, "resync": False}
    seen = live.publish(incident_message(site="site-a"))
    missed = [
        incident_message(site="site-a"),
        incident_message(site="site-b", cameras=("b1",)),
        incident_message(site="site-a"),
    ]
    cursors = [live.publish(message) for message in missed]
    items, done = replay(live, "a-operator", str(seen))
    assert [item["incident"]["id"] for item in items] == [missed[0].incident_id, missed[2].incident_id]
    assert done == {"type": "cursor", "cursor": cursors[-1], "replayed": 2, "resync": False}
    assert replay(live, "a-operator", str(cursors[-1])) == ([], {**done, "replayed": 0})


def test_a_cursor_from_another_database_asks_for_a_resync(live: Live) -> None:
    live.publish(incident_message(site="site-a"))
    with live.connect("admin", since="999") as ws:
        assert receive(ws) == {"type": "cursor", "cursor": 1, "replayed": 0, "resync": True}


@pytest.mark.parametrize("since", ["-1", "abc", "1.5", "9" * 30])
def test_a_malformed_cursor_is_refused(live: Live, since: str) -> None:
    with pytest.raises(WebSocketDisconnect) as caught, live.connect("admin", since=since) as ws:
        ws.receive_text()
    assert caught.value.code == 4400


def test_the_same_revision_is_journalled_once(live: Live) -> None:
    message = incident_message(site="site-a")
    assert live.publish(message) == live.publish(message)
    assert len(live.store.incident_journal.after(0)) == 1
