"""The auth routes over HTTP: cookie sessions with CSRF, tokens, sessions, users, backoff, the WebSocket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.auth.support import TEST_PASSWORD, fast_passwords, service
from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.auth.models import RoleGrant
from watchkeeper.auth.permissions import Permission
from watchkeeper.bus.local import LocalBus
from watchkeeper.config.server import RateLimitConfig, ServerConfig
from watchkeeper.domain import Camera, CameraId, Site, SiteId
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store


@pytest.fixture(scope="module")
def app_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppContext, Store]]:
    folder = Path(tmp_path_factory.mktemp("authapi"))
    store = open_store(f"sqlite:///{folder / 'wk.db'}")
    for site in ("a", "b"):
        store.sites.upsert(Site(SiteId(site), site.upper()))
        store.cameras.upsert(Camera(CameraId(f"{site}1"), f"Camera {site}1", SiteId(site)))
    auth = service(store)
    auth.create_user("boss", TEST_PASSWORD, [RoleGrant("admin")])
    auth.create_user("watcher", TEST_PASSWORD, [RoleGrant("viewer", frozenset({SiteId("a")}))])
    context = AppContext(
        store=store,
        bus=LocalBus(),
        media_root=folder,
        statuses=StatusBoard([]),
        hub=LiveHub(),
        passwords=fast_passwords(),
    )
    yield context, store
    store.close()


@pytest.fixture
def client(app_store: tuple[AppContext, Store]) -> TestClient:
    server = ServerConfig(rate_limits=RateLimitConfig(enabled=False))
    return TestClient(create_app(app_store[0], server))


def _login(client: TestClient, username: str, password: str = TEST_PASSWORD) -> str:
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here; Secure is set when served over TLS
    return str(response.json()["csrf_token"])


def test_cookie_session_needs_csrf_for_unsafe_methods(client: TestClient) -> None:
    csrf = _login(client, "boss")
    me = client.get("/api/auth/me").json()
    assert me["username"] == "boss"
    assert me["csrf_token"] == csrf
    assert Permission.MANAGE_USERS.value in me["permissions"]
    refused = client.post("/api/auth/tokens", json={"name": "t"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "csrf_failed")
    wrong = client.post("/api/auth/tokens", json={"name": "t"}, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    made = client.post("/api/auth/tokens", json={"name": "t"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201
    assert client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/auth/me").status_code == 401


def test_tokens_are_shown_once_listed_without_secret_and_revocable(client: TestClient) -> None:
    csrf = _login(client, "boss")
    created = client.post(
        "/api/auth/tokens", json={"name": "ci", "expires_in_days": 7}, headers={"X-CSRF-Token": csrf}
    ).json()
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {created['token']}"}
    listed = client.get("/api/auth/tokens", headers=bearer)
    assert created["id"] in [token["id"] for token in listed.json()]
    assert created["token"] not in listed.text
    assert client.delete(f"/api/auth/tokens/{created['id']}", headers=bearer).status_code == 204
    gone = client.get("/api/auth/me", headers=bearer)
    assert (gone.status_code, gone.json()["error"]["code"]) == (401, "unauthenticated")
    assert gone.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Basic Ym9zczpwdw==", "Bearer wkt_forged", "Bearer " + "x" * 4000, "Bearer wks_session"],
)
def test_bad_authorization_headers_are_401(client: TestClient, header: str) -> None:
    response = client.get("/api/cameras", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_sessions_can_be_listed_and_revoked(client: TestClient) -> None:
    csrf = _login(client, "watcher")
    other = TestClient(client.app)
    _login(other, "watcher")
    sessions = client.get("/api/auth/sessions").json()
    assert sum(session["current"] for session in sessions) == 1
    victim = next(session["id"] for session in sessions if not session["current"])
    assert client.delete(f"/api/auth/sessions/{victim}", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert other.get("/api/auth/me").status_code == 401
    missing = client.delete(f"/api/auth/sessions/{victim}", headers={"X-CSRF-Token": csrf})
    assert missing.status_code == 404


def test_wrong_passwords_back_off_with_retry_after(app_store: tuple[AppContext, Store]) -> None:
    client = TestClient(create_app(app_store[0], ServerConfig(rate_limits=RateLimitConfig(enabled=False))))
    codes = []
    for _ in range(8):
        response = client.post("/api/auth/login", json={"username": "nobody-here", "password": "guess-guess"})
        codes.append(response.json()["error"]["code"])
    assert codes[:6] == ["invalid_credentials"] * 6
    assert codes[-1] == "too_many_attempts"
    blocked = client.post("/api/auth/login", json={"username": "nobody-here", "password": "guess-guess"})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    service(app_store[1]).repos.throttles.clear("addr:testclient")


def test_admins_manage_users_and_password_changes_end_other_sessions(client: TestClient) -> None:
    csrf = _login(client, "boss")
    headers = {"X-CSRF-Token": csrf}
    body = {"username": "ünïcode-ok", "password": TEST_PASSWORD, "roles": [{"role": "viewer"}]}
    assert client.post("/api/users", json=body, headers=headers).status_code == 422  # names are ASCII
    body["username"] = "newbie"
    body["roles"] = [{"role": "operator", "sites": ["a"]}]
    created = client.post("/api/users", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert TEST_PASSWORD not in created.text
    assert "argon2" not in created.text
    assert client.post("/api/users", json=body, headers=headers).json()["error"]["code"] == "duplicate"
    unknown_role = {**body, "username": "other", "roles": [{"role": "root"}]}
    assert (
        client.post("/api/users", json=unknown_role, headers=headers).json()["error"]["code"]
        == "unknown_role"
    )
    newbie = TestClient(client.app)
    newbie_csrf = _login(newbie, "newbie")
    patched = client.patch(
        "/api/users/newbie", json={"roles": [{"role": "viewer", "cameras": ["b1"]}]}, headers=headers
    )
    assert patched.json()["roles"] == [{"role": "viewer", "sites": [], "cameras": ["b1"]}]
    assert [camera["id"] for camera in newbie.get("/api/cameras").json()] == ["b1"]  # next request
    change = {"current_password": TEST_PASSWORD, "new_password": "newbie's new password"}
    assert (
        newbie.post("/api/auth/password", json=change, headers={"X-CSRF-Token": newbie_csrf}).status_code
        == 204
    )
    assert client.delete("/api/users/boss", headers=headers).json()["error"]["code"] == "forbidden"
    assert client.delete("/api/users/newbie", headers=headers).status_code == 204
    assert newbie.get("/api/auth/me").status_code == 401
    assert client.get("/api/users/newbie").status_code == 404


def test_malformed_json_is_a_typed_4xx(client: TestClient) -> None:
    response = client.post(
        "/api/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


def test_the_websocket_pushes_only_visible_cameras(app_store: tuple[AppContext, Store]) -> None:
    context, store = app_store
    client = TestClient(create_app(context))
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/api/ws"):
        pass
    assert refused.value.code == 4401
    watcher = service(store).login("watcher", TEST_PASSWORD, "ws-test")
    client.cookies.set("wk_session", watcher.secret)
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/api/ws", headers={"origin": "http://evil.example"}),
    ):
        pass
    with client.websocket_connect("/api/ws") as ws:
        context.hub.broadcast('{"camera":"b1"}', CameraId("b1"), Permission.VIEW_LIVE)
        context.hub.broadcast('{"camera":"a1"}', CameraId("a1"), Permission.VIEW_LIVE)
        assert ws.receive_text() == '{"camera":"a1"}'
