"""A TCP hop between a node and a real server (PostgreSQL) that a test closes and reopens: a site link.

Closed, the hop refuses new connections and resets the open ones (as a router does when the link is down
and the far side is unreachable: the client sees "connection refused" or "connection reset" at once).
Reopened, it listens again on the same port, so the node's configured URL keeps working.

Black-holed (:meth:`TcpLink.black_hole`), the hop keeps every connection open and accepts new ones but
forwards nothing, answers nothing and resets nothing: a link that hangs. Healed, it resets the connections
that lost bytes meanwhile (as TCP would have given up on them) and forwards again.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from typing import Any


class TcpLink:
    """Forwards ``127.0.0.1:<port>`` to ``127.0.0.1:<target_port>`` until closed; reopens on the same port."""

    def __init__(self, target_port: int) -> None:
        """Prepare a hop to ``target_port``; entering the context starts it on a free port."""
        self._target_port = target_port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-link", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._holed = False
        self.port = 0
        self.connections = 0
        """Connections accepted so far (while open)."""

    def __enter__(self) -> TcpLink:
        self._thread.start()
        self._call(self._listen())
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def close(self) -> None:
        """Take the link down: refuse new connections, reset the open ones."""
        self._call(self._close())

    def reopen(self) -> None:
        """Bring the link back on the same port."""
        self._call(self._listen())

    def black_hole(self) -> None:
        """Hang the link: forward nothing either way, close nothing, accept new connections and drop them."""
        self._call(self._set_holed(True))

    def heal(self) -> None:
        """End the hang: reset the connections that lost bytes, forward again."""
        self._call(self._set_holed(False))

    async def _set_holed(self, holed: bool) -> None:
        if not holed:
            for writer in list(self._writers):
                _reset(writer)
            self._writers.clear()
        self._holed = holed

    def _call(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            _reset(writer)
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._holed:  # the handshake completes (the kernel does it), then nothing ever comes back
            self._writers.add(writer)
            with contextlib.suppress(OSError):
                while await reader.read(65536):
                    pass
            self._writers.discard(writer)
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
        except OSError:
            _reset(writer)
            return
        self.connections += 1
        self._writers |= {writer, upstream_writer}
        try:
            await asyncio.gather(
                self._pump(reader, upstream_writer),
                self._pump(upstream_reader, writer),
                return_exceptions=True,
            )
        finally:
            self._writers -= {writer, upstream_writer}

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self._holed:
                    continue  # swallowed: the far side never sees it
                writer.write(data)
                await writer.drain()
        finally:
            with contextlib.suppress(OSError):
                writer.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a link that drops the session does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        writer.close()
