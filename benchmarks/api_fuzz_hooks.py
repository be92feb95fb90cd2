"""Schemathesis hooks for ``benchmarks/api_fuzz.py``: a fresh API token whenever the old one stops working.

The fuzzer may revoke its own credential (``POST /api/auth/logout``, ``DELETE /api/auth/tokens/{id}``); the
rest of the run would then only see 401s. This provider signs in again (``WK_FUZZ_URL``, ``WK_FUZZ_USER``,
``WK_FUZZ_PASSWORD``) and creates a new token, on a 401 or every minute.
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
import schemathesis


def new_token(base_url: str, username: str, password: str) -> str:
    """Sign in (waiting out the login backoff the fuzzer's failed logins cause) and create an API token."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for _ in range(20):
            login = client.post("/api/auth/login", json={"username": username, "password": password})
            if login.status_code != 429:
                break
            time.sleep(min(2.0, float(login.headers.get("Retry-After", "1"))))
        login.raise_for_status()
        headers = {"X-CSRF-Token": login.json()["csrf_token"]}
        token = client.post("/api/auth/tokens", json={"name": "api-fuzz"}, headers=headers)
        token.raise_for_status()
        return str(token.json()["token"])


@schemathesis.auth(refresh_interval=60)
class FreshToken:
    """Bearer token of the fuzz admin, re-created when revoked."""

    def get(self, case: Any, context: Any) -> str:
        return new_token(
            os.environ["WK_FUZZ_URL"], os.environ["WK_FUZZ_USER"], os.environ["WK_FUZZ_PASSWORD"]
        )

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
