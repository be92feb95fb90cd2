"""A worker's own network: a Linux network namespace joined to the host by two veth pairs.

``wan`` carries the worker's traffic to the central services (NATS, PostgreSQL) and is the link a test takes
down; ``lan`` carries the camera stream and the worker's HTTP port and stays up, as at a site whose uplink
fails while its cameras still answer. Names and addresses are unique per run; the namespace (and with it
both veth pairs) is deleted afterwards, on failure too. Needs root, ``ip`` and (for NATS) ``nats-server``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.services import port_open, services_required

NATS_SERVER = Path("/usr/sbin/nats-server")


def require_partition_tools() -> None:
    """Skip (fail under ``WATCHKEEPER_REQUIRE_SERVICES=1``) unless root, ``ip`` and nats-server are here."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (network namespaces and veth links)")
    if shutil.which("ip") is None:
        missing.append("the `ip` command (iproute2)")
    if not NATS_SERVER.is_file():
        missing.append(str(NATS_SERVER))
    if not missing:
        return
    message = f"a network partition test needs {', '.join(missing)}"
    if services_required():
        pytest.fail(f"WATCHKEEPER_REQUIRE_SERVICES=1 but {message}")
    pytest.skip(message)


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")


@dataclass(frozen=True, slots=True)
class VethLink:
    """One veth pair: ``host_name``/``host_address`` in the host, ``inner_name``/``inner_address`` inside."""

    host_name: str
    inner_name: str
    host_address: str
    inner_address: str


@dataclass(frozen=True, slots=True)
class WorkerNetwork:
    """A network namespace with an uplink (``wan``, the one to cut) and a site link (``lan``)."""

    namespace: str
    wan: VethLink
    lan: VethLink

    @property
    def wrapper(self) -> tuple[str, ...]:
        """Prefix that runs a command inside the namespace."""
        return ("ip", "netns", "exec", self.namespace)

    def cut(self) -> None:
        """Take the uplink down inside the namespace: nothing passes, no reset is sent either way."""
        _ip("netns", "exec", self.namespace, "ip", "link", "set", self.wan.inner_name, "down")

    def restore(self) -> None:
        """Bring the uplink back up (its address and route come back with it)."""
        _ip("netns", "exec", self.namespace, "ip", "link", "set", self.wan.inner_name, "up")


def _free_subnet() -> ipaddress.IPv4Network:
    """A /29 in 10.200.0.0/13 that no interface of the host uses (split into two /30 links)."""
    used = " ".join(
        subprocess.run(["ip", "-4", "-o", *args], capture_output=True, text=True, check=True).stdout
        for args in (("addr", "show"), ("route", "show", "table", "all"))
    )
    pool = ipaddress.IPv4Network("10.200.0.0/13")
    for _ in range(100):
        candidate = ipaddress.IPv4Network(
            (int(pool.network_address) + 8 * random.randrange(pool.num_addresses // 8), 29)
        )
        prefix = ".".join(str(candidate.network_address).split(".")[:3])
        if re.search(rf"(^|\s){re.escape(prefix)}\.", used) is None:
            return candidate
    raise RuntimeError("no free 10.200.0.0/13 subnet for the test's veth links")


def _add_link(namespace: str, name: str, subnet: ipaddress.IPv4Network) -> VethLink:
    host_address, inner_address = (str(address) for address in list(subnet.hosts())[:2])
    link = VethLink(f"{name}h", f"{name}n", host_address, inner_address)
    _ip("link", "add", link.host_name, "type", "veth", "peer", "name", link.inner_name)
    _ip("link", "set", link.inner_name, "netns", namespace)
    _ip("addr", "add", f"{host_address}/30", "dev", link.host_name)
    _ip("link", "set", link.host_name, "up")
    _ip("netns", "exec", namespace, "ip", "addr", "add", f"{inner_address}/30", "dev", link.inner_name)
    _ip("netns", "exec", namespace, "ip", "link", "set", link.inner_name, "up")
    return link


@contextlib.contextmanager
def worker_network() -> Iterator[WorkerNetwork]:
    """A fresh namespace with its ``wan`` and ``lan`` links; deleted (links included) afterwards."""
    require_partition_tools()
    tag = uuid.uuid4().hex[:6]
    namespace = f"wkp{tag}"
    subnet = _free_subnet()
    wan_net, lan_net = subnet.subnets(new_prefix=30)
    _ip("netns", "add", namespace)
    try:
        _ip("netns", "exec", namespace, "ip", "link", "set", "lo", "up")
        network = WorkerNetwork(
            namespace,
            _add_link(namespace, f"wkp{tag}w", wan_net),
            _add_link(namespace, f"wkp{tag}l", lan_net),
        )
        yield network
    finally:
        # Deleting the namespace destroys the veth ends inside it, and with them their host peers.
        _ip("netns", "del", namespace)
        for suffix in ("wh", "lh"):
            with contextlib.suppress(RuntimeError):
                _ip("link", "del", f"wkp{tag}{suffix}")


def free_port_on(host: str) -> int:
    """A TCP port nobody listens on right now at ``host``."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def nats_server(host: str, folder: Path) -> Iterator[str]:
    """The test's own ``nats-server`` with JetStream (store in ``folder``) on ``host``; yields its URL."""
    port = free_port_on(host)
    folder.mkdir(parents=True, exist_ok=True)
    command = [str(NATS_SERVER), "-a", host, "-p", str(port), "-js", "-sd", str(folder / "store")]
    command += ["-l", str(folder / "nats.log")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not port_open(host, port, timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                log = folder / "nats.log"
                raise RuntimeError(f"nats-server did not start: {log.read_text() if log.exists() else ''}")
            time.sleep(0.1)
        yield f"nats://{host}:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
