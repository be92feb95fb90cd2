"""The hardening middleware over a real application: headers, body limit, rate limits, CORS, schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.api.security import TokenBuckets, content_security_policy
from watchkeeper.bus.local import LocalBus
from watchkeeper.config.server import ServerConfig
from watchkeeper.storage.factory import open_store


@pytest.fixture
def context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppContext]:
    """A fresh store (and so fresh login backoff state) per test."""
    folder = tmp_path_factory.mktemp("hardening")
    store = open_store(f"sqlite:///{folder / 'wk.db'}")
    yield AppContext(store=store, bus=LocalBus(), media_root=folder, statuses=StatusBoard(()), hub=LiveHub())
    store.close()


def _client(context: AppContext, base_url: str = "http://testserver", **settings: object) -> TestClient:
    return TestClient(create_app(context, ServerConfig.model_validate(settings)), base_url=base_url)


def test_every_response_carries_the_security_headers(context: AppContext) -> None:
    client = _client(context)
    for response in (client.get("/api/health"), client.get("/api/nowhere"), client.get("/openapi.json")):
        csp = response.headers["content-security-policy"]
        assert "unsafe-inline" not in csp
        assert "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "camera=()" in response.headers["permissions-policy"]
        assert "strict-transport-security" not in response.headers


def test_hsts_only_over_https(context: AppContext) -> None:
    response = _client(context, base_url="https://testserver").get("/api/health")
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_an_external_tile_server_is_the_only_third_party_origin() -> None:
    csp = content_security_policy("https://tiles.example.org/{z}/{x}/{y}.png")
    assert "img-src 'self' data: blob: https://tiles.example.org;" in csp
    assert "example" not in content_security_policy("/tiles/{z}/{x}/{y}.png")


def test_an_oversized_body_is_refused_with_413(context: AppContext) -> None:
    client = _client(context, max_body_bytes=2048)
    response = client.post(
        "/api/auth/login", content=b"x" * 4096, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_an_oversized_chunked_body_is_refused_while_reading(context: AppContext) -> None:
    client = _client(context, max_body_bytes=2048)

    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b"y" * 1024

    response = client.post("/api/auth/login", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_a_body_within_the_limit_reaches_the_route(context: AppContext) -> None:
    client = _client(context, max_body_bytes=2048)
    response = client.post(
        "/api/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code not in (413, 500)


def test_a_bad_content_length_is_refused(context: AppContext) -> None:
    client = _client(context)
    response = client.post("/api/auth/login", content=b"{}", headers={"Content-Length": "abc"})
    assert response.status_code in (400, 413)


def test_login_attempts_are_rate_limited_per_address(context: AppContext) -> None:
    client = _client(context, rate_limits={"login_per_minute": 1, "login_burst": 3})
    body = {"username": "nobody", "password": "wrong"}
    answers = [client.post("/api/auth/login", json=body) for _ in range(4)]
    assert all(response.status_code != 429 for response in answers[:3])
    limited = answers[3]
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    # Other endpoints are not affected.
    assert client.get("/api/health").status_code == 200


def test_clip_exports_are_rate_limited(context: AppContext) -> None:
    client = _client(context, rate_limits={"expensive_per_minute": 1, "expensive_burst": 2})
    url = "/api/cameras/cam1/clip.mp4?start=2024-01-01T00:00:00Z&end=2024-01-01T00:00:10Z"
    codes = [client.get(url).status_code for _ in range(3)]
    assert codes[2] == 429
    assert 429 not in codes[:2]


def test_rate_limits_can_be_switched_off(context: AppContext) -> None:
    client = _client(context, rate_limits={"enabled": False, "login_burst": 1})
    answers = [client.post("/api/auth/login", json={"username": "a", "password": "b"}) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [401] * 4


def test_token_bucket_refills_over_time() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate_per_s=0.5, burst=2, clock=lambda: now[0])
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(2.0)
    assert buckets.take("b") == 0.0  # keys are independent
    now[0] = 2.0
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0


def test_cors_is_off_by_default(context: AppContext) -> None:
    client = _client(context)
    response = client.get("/api/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options(
        "/api/auth/login",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_allows_only_the_configured_origins(context: AppContext) -> None:
    client = _client(context, cors_origins=["https://console.example.org"])
    allowed = client.get("/api/health", headers={"Origin": "https://console.example.org"})
    assert allowed.headers["access-control-allow-origin"] == "https://console.example.org"
    other = client.get("/api/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"cors_origins": ["*"]}, "not an origin"),
        ({"cors_origins": ["https://x.example/path"]}, "not an origin"),
        ({"trusted_proxies": ["not-an-ip"]}, "not an IP address"),
        ({"max_body_bytes": 10}, "greater than or equal"),
        ({"rate_limits": {"login_per_minute": 0}}, "greater than 0"),
    ],
)
def test_bad_settings_are_clear_errors(settings: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        ServerConfig.model_validate(settings)


def test_tls_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    server = ServerConfig.model_validate({"tls": {"cert_file": "cert.pem", "key_file": "/etc/key.pem"}})
    resolved = server.resolved(tmp_path)
    assert resolved.tls is not None
    assert resolved.tls.cert_file == tmp_path / "cert.pem"
    assert resolved.tls.key_file == Path("/etc/key.pem")


def test_the_schema_documents_the_limit_answers(context: AppContext) -> None:
    schema = _client(context).get("/openapi.json").json()
    clip = schema["paths"]["/api/cameras/{camera_id}/clip.mp4"]["get"]["responses"]
    assert "429" in clip
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                assert "413" in operation["responses"], f"{method} {path}"


def test_a_body_that_is_not_utf8_is_a_typed_422(context: AppContext) -> None:
    response = _client(context).post(
        "/api/auth/login", content=b"\xff\xfe{\x00", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
