"""``server.tls``: the server speaks HTTPS with the configured certificate (self-signed here, via openssl)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, write_test_config
from tests.security.conftest import SecureServer, add_user, launch, run_cli, update_config


def _self_signed(folder: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (apt-get install openssl)")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_serves_https_with_secure_headers_and_cookie(tmp_path: Path, stop_later: list[SecureServer]) -> None:
    cert, key = _self_signed(tmp_path)
    port = free_port()
    config = write_test_config(tmp_path / "wk", {}, http_port=port)
    update_config(config, tls={"cert_file": "../cert.pem", "key_file": str(key)})
    trust = ssl.create_default_context(cafile=str(cert))
    server = launch(config, port, scheme="https", verify=trust)
    stop_later.append(server)

    health = httpx.get(f"{server.base_url}/api/health", verify=trust)
    assert health.status_code == 200
    assert health.headers["strict-transport-security"].startswith("max-age=")
    assert "frame-ancestors 'none'" in health.headers["content-security-policy"]
    assert "https://127.0.0.1" in server.log_text()

    login = server.client().post(
        "/api/auth/login", json={"username": "sec-admin", "password": "Adm1n-pass-for-security-tests"}
    )
    assert login.status_code == 200
    cookie = login.headers["set-cookie"].lower()
    assert "secure" in cookie
    assert "httponly" in cookie

    # Untrusted certificate: the client refuses, so the server really presented ours.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.base_url}/api/health")
    # Plain HTTP on the TLS port gets nothing useful.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5)


def test_a_missing_key_is_a_clear_startup_error(tmp_path: Path) -> None:
    cert, _ = _self_signed(tmp_path)
    config = write_test_config(tmp_path / "wk", {}, http_port=free_port())
    update_config(config, tls={"cert_file": str(cert), "key_file": str(tmp_path / "nope.pem")})
    add_user(config, "someone", "a-long-enough-password")
    done = run_cli(["serve", "--config", str(config)])
    assert done.returncode == 2
    assert "cannot use TLS certificate" in done.stderr
    assert "Traceback" not in done.stderr
