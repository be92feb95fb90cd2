"""nats-servers of a test's own, on their own ports, stoppable and restartable (4222 is never touched).

``PrivateNats`` runs a plain JetStream server storing in a folder; ``ConfiguredNats`` runs one from a
configuration file the test writes (a hub, a leaf node). Both log to ``nats.log`` in their folder, and a
server that does not start in time fails the test with that log.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.conftest import free_port

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
START_TIMEOUT_S = 10.0


class NatsProcess:
    """A nats-server subprocess listening for clients on ``127.0.0.1:port``, logging into ``folder``."""

    def __init__(self, folder: Path, port: int, arguments: list[str]) -> None:
        """Prepare ``nats-server arguments``; :meth:`start` runs it."""
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.port = port
        self._arguments = arguments
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Client URL of the server."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        """Where the server's output goes (appended across restarts)."""
        return self.folder / "nats.log"

    def start(self) -> None:
        """Start the server and wait until it accepts connections (fail at once if it exits)."""
        with self.log.open("ab") as log:
            self._process = subprocess.Popen([NATS_SERVER, *self._arguments], stdout=log, stderr=log)
        process = self._process
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.05)
        raise AssertionError(f"nats-server did not start on port {self.port}: {self.log.read_text()}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait for it to exit."""
        if self._process is None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None


class PrivateNats(NatsProcess):
    """A nats-server with JetStream of this test only, on a free port, storing in ``folder``."""

    def __init__(self, folder: Path) -> None:
        """Prepare a server storing in ``folder``; :meth:`start` runs it."""
        port = free_port()
        super().__init__(folder, port, ["-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(folder)])


class ConfiguredNats(NatsProcess):
    """A nats-server of this test started from a configuration file."""

    def __init__(self, folder: Path, text: str, port: int) -> None:
        """Write ``text`` as ``folder/nats.conf``; the server listens for clients on ``port``."""
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "nats.conf"
        self.config.write_text(text)
        super().__init__(folder, port, ["-c", str(self.config)])
