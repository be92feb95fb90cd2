"""Fan-out of live pushes: slow consoles resync, shared credential checks, re-checks end revoked streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.auth.support import fast_passwords, service, user_token
from tests.integrations.conftest import incident_message
from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import CameraDirectory, LiveHub, PrincipalCache, StatusBoard, incident_push
from watchkeeper.auth.errors import UnauthenticatedError
from watchkeeper.auth.models import RoleGrant
from watchkeeper.auth.principal import Principal
from watchkeeper.bus.local import LocalBus
from watchkeeper.domain import Camera, CameraId, Site, SiteId
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store


def test_a_console_that_falls_behind_gets_a_resync_cursor_and_the_others_lose_nothing() -> None:
    async def scenario() -> tuple[list[object], list[object]]:
        hub = LiveHub(queue_size=3)
        slow, fast = hub.connect(), hub.connect()
        fast_got: list[object] = []
        for cursor in range(1, 6):
            hub.push(incident_push(incident_message(), cursor))
            item = await fast.next(1.0)
            fast_got.append(item.cursor if item is not None and not isinstance(item, int) else item)
        slow_got: list[object] = []
        while (item := await slow.next(0.01)) is not None:
            slow_got.append(item if isinstance(item, int) else f"msg {item.cursor}")
        return fast_got, slow_got

    fast_got, slow_got = asyncio.run(scenario())
    assert fast_got == [1, 2, 3, 4, 5]
    assert slow_got == [4, "msg 5"]  # 1-3 queued, 4 overflowed: resync at cursor 4, then 5


def test_a_disconnected_client_wakes_up_closed() -> None:
    async def scenario() -> object:
        hub = LiveHub()
        client = hub.connect()
        waiting = asyncio.create_task(client.next(30.0))
        await asyncio.sleep(0)
        hub.disconnect(client)
        result = await asyncio.wait_for(waiting, 2.0)
        assert hub.client_count == 0
        return result

    assert asyncio.run(scenario()) is None


def test_consoles_sharing_a_credential_share_one_check_until_it_expires() -> None:
    calls: list[str] = []
    principal = Principal(user_id=1, username="op", display_name="Op", scopes=())

    def authenticate() -> Principal:
        calls.append("checked")
        return principal

    cache = PrincipalCache(ttl_s=60)
    for _ in range(200):
        assert cache.check("cookie:abc", authenticate) is principal
    assert calls == ["checked"]
    cache.check("cookie:other", authenticate)
    assert len(calls) == 2
    cache.forget()
    cache.check("cookie:abc", authenticate)
    assert len(calls) == 3


def test_a_failed_check_is_not_cached() -> None:
    cache = PrincipalCache(ttl_s=60)

    def refuse() -> Principal:
        raise UnauthenticatedError("session ended")

    for _ in range(2):
        with pytest.raises(UnauthenticatedError, match="session ended"):
            cache.check("cookie:gone", refuse)


def test_the_camera_directory_reloads_when_stale_or_forced_but_not_more_than_once_a_second() -> None:
    loads: list[int] = []
    cameras = [Camera(CameraId("a1"), "A1", SiteId("a"))]

    def load() -> list[Camera]:
        loads.append(1)
        return list(cameras)

    directory = CameraDirectory(ttl_s=60)
    assert directory.get(CameraId("a1")) is None
    directory.refresh(load)
    directory.refresh(load)
    assert len(loads) == 1
    assert directory.get(CameraId("a1")) == cameras[0]
    directory.refresh(load, force=True)  # loaded under a second ago: not again
    assert len(loads) == 1
    assert directory.get(CameraId("zz")) is None


@dataclass
class Live:
    client: TestClient
    store: Store
    hub: LiveHub
    tokens: dict[str, str]

    def connect(self, user: str) -> Any:
        return self.client.websocket_connect(f"/api/ws?token={self.tokens[user]}")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    store = open_store(f"sqlite:///{tmp_path / 'wk.db'}")
    store.sites.upsert(Site(SiteId("site-a"), "site-a"))
    store.cameras.upsert(Camera(CameraId("a1"), "A1", SiteId("site-a")))
    tokens = {
        "admin": user_token(store, "admin", RoleGrant("admin")),
        "a-operator": user_token(store, "a-operator", RoleGrant("operator", frozenset({SiteId("site-a")}))),
    }
    hub = LiveHub(queue_size=8, recheck_s=0.3)
    context = AppContext(
        store=store,
        bus=LocalBus(),
        media_root=tmp_path,
        statuses=StatusBoard(()),
        hub=hub,
        passwords=fast_passwords(),
    )
    yield Live(TestClient(create_app(context)), store, hub, tokens)
    store.close()


def test_a_slow_console_is_told_to_resync_over_the_websocket(live: Live) -> None:
    def flood() -> None:  # runs on the server's event loop, faster than the console reads
        for cursor in range(1, 21):
            live.hub.push(incident_push(incident_message(), cursor))

    with live.connect("admin") as ws:
        ws.portal.call(flood)
        received = [json.loads(ws.receive_text()) for _ in range(3)]
    assert received[0] == {"type": "cursor", "cursor": 18, "replayed": 0, "resync": True}
    assert [message["cursor"] for message in received[1:]] == [19, 20]


def test_a_deleted_users_stream_ends_at_the_next_credential_check(live: Live) -> None:
    with live.connect("a-operator") as ws:
        ws.portal.call(live.hub.push, incident_push(incident_message(), 1))
        assert json.loads(ws.receive_text())["cursor"] == 1
        service(live.store).delete_user("a-operator")
        with pytest.raises(WebSocketDisconnect) as ended:
            ws.receive_text()
    assert ended.value.code == 4401
