"""A real OpenStack Swift (proxy + s3api + tempauth, account/container/object servers) for tests.

Everything lives in a temporary folder: configuration, rings built with ``swift-ring-builder``, one device
folder for the data. Every server listens on a free loopback port and runs as a single process
(``workers = 0``), so it can be stopped and started again (the "S3 is down" tests). S3 requests are
authenticated for real: tempauth checks the SigV4 signature against the user's key, so a wrong secret is
refused with ``SignatureDoesNotMatch`` / ``InvalidAccessKeyId``.

Swift comes from Debian (``swift swift-proxy swift-object swift-container swift-account``, see
../shared/SERVICES.md); without it the tests skip locally and fail in CI (``WATCHKEEPER_REQUIRE_SERVICES``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import start_limit_s
from tests.support.services import port_open, services_required

ACCESS_KEY = "wk:tester"
"""The S3 access key (tempauth ``account:user``)."""
SECRET_KEY = "wk-swift-secret"
"""The S3 secret key (the tempauth user's key)."""
REGION = "us-east-1"
SERVERS = ("account", "container", "object")
BINARIES = ("swift-ring-builder", "swift-proxy-server", "swift-object-server")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _backend_conf(root: Path, kind: str, port: int) -> str:
    return f"""[DEFAULT]
devices = {root / "srv"}
mount_check = false
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
swift_dir = {root / "etc"}
log_level = WARNING
log_address = /nonexistent

[pipeline:main]
pipeline = {kind}-server

[app:{kind}-server]
use = egg:swift#{kind}
"""


def _proxy_conf(root: Path, port: int, memcache_port: int) -> str:
    return f"""[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
swift_dir = {root / "etc"}
log_level = WARNING
log_address = /nonexistent

[pipeline:main]
pipeline = catch_errors gatekeeper cache s3api tempauth copy slo dlo proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:{memcache_port}

[filter:s3api]
use = egg:swift#s3api
location = {REGION}

[filter:tempauth]
use = egg:swift#tempauth
user_wk_tester = {SECRET_KEY} .admin

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
"""


@dataclass
class SwiftServer:
    """A running single-node Swift; ``endpoint`` is its S3 address."""

    root: Path
    ports: dict[str, int]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        """The S3 endpoint URL (path-style)."""
        return f"http://127.0.0.1:{self.ports['proxy']}"

    def start(self, name: str) -> None:
        """Start one server (``proxy``, ``account``, ``container`` or ``object``) and wait for its port."""
        conf = self.root / "etc" / f"{name}-server.conf"
        log = (self.root / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [f"/usr/bin/swift-{name}-server", str(conf)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + start_limit_s()
        while not port_open("127.0.0.1", self.ports[name], timeout=0.2):
            if self.processes[name].poll() is not None or time.monotonic() > deadline:
                tail = (self.root / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"swift {name} server did not start:\n{tail}")
            time.sleep(0.1)

    def stop(self, name: str) -> None:
        """Stop one server (SIGTERM, then SIGKILL) and wait until its port is closed."""
        process = self.processes.pop(name, None)
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def close(self) -> None:
        """Stop every server."""
        for name in list(self.processes):
            self.stop(name)


def _ring(etc: Path, kind: str, port: int) -> None:
    builder = str(etc / f"{kind}.builder")
    for args in (
        ["create", "8", "1", "1"],
        ["add", f"r1z1-127.0.0.1:{port}/d1", "100"],
        ["rebalance"],
    ):
        done = subprocess.run(["swift-ring-builder", builder, *args], capture_output=True, check=False)
        if done.returncode not in (0, 1):  # 1 = warnings (e.g. a single replica), still written
            raise RuntimeError(f"swift-ring-builder {args[0]} failed: {done.stdout!r} {done.stderr!r}")


def start_swift(root: Path) -> SwiftServer:
    """Configure, build rings for and start a single-node Swift under ``root``."""
    etc = root / "etc"
    (root / "srv" / "d1").mkdir(parents=True)
    etc.mkdir()
    ports = {name: _free_port() for name in (*SERVERS, "proxy")}
    (etc / "swift.conf").write_text(
        "[swift-hash]\nswift_hash_path_suffix = watchkeeper-tests\nswift_hash_path_prefix = wk\n\n"
        "[storage-policy:0]\nname = standard\ndefault = yes\n"
    )
    for kind in SERVERS:
        (etc / f"{kind}-server.conf").write_text(_backend_conf(root, kind, ports[kind]))
        _ring(etc, kind, ports[kind])
    (etc / "proxy-server.conf").write_text(_proxy_conf(root, ports["proxy"], _free_port()))
    server = SwiftServer(root, ports)
    try:
        for name in (*SERVERS, "proxy"):
            server.start(name)
    except BaseException:
        server.close()
        raise
    return server


def swift_missing() -> str | None:
    """Why Swift cannot run here, or ``None`` when the Debian packages are installed."""
    missing = [name for name in BINARIES if shutil.which(name) is None]
    if missing:
        return (
            f"OpenStack Swift is not installed ({', '.join(missing)} missing): "
            "apt-get install swift swift-proxy swift-object swift-container swift-account"
        )
    return None


def require_swift() -> None:
    """Skip (or fail in CI) unless the Swift Debian packages are installed."""
    reason = swift_missing()
    if reason is None:
        return
    if services_required():
        pytest.fail(f"WATCHKEEPER_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)
