"""Helpers for tests that need a real local service (PostgreSQL, NATS, MQTT...).

On a developer machine without the service the test is skipped with a clear reason. In CI,
``WATCHKEEPER_REQUIRE_SERVICES=1`` turns that skip into a failure so a missing service can never pass
silently.
"""

from __future__ import annotations

import os
import socket

import pytest


def services_required() -> bool:
    """True when CI demands that every service-backed test really runs."""
    return os.environ.get("WATCHKEEPER_REQUIRE_SERVICES", "") not in ("", "0", "false", "no")


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or fail in CI) unless ``name`` answers on ``host:port``."""
    if port_open(host, port):
        return
    message = f"{name} is not answering on {host}:{port} (see ../shared/SERVICES.md to start it)"
    if services_required():
        pytest.fail(f"WATCHKEEPER_REQUIRE_SERVICES=1 but {message}")
    pytest.skip(message)
