"""A small RTSP 1.0 server that plays looping H.264 clips like IP cameras do.

This is the test rig of Watchkeeper: the test suite points the real recorder (FFmpeg through PyAV) at it, and
``watchkeeper simulate`` / ``make demo`` serve four simulated cameras with it. Pure Python (asyncio + stdlib
sockets), no GStreamer or mediamtx.

What it speaks: OPTIONS, DESCRIBE (SDP with one H.264 track, ``sprop-parameter-sets``), SETUP over
``RTP/AVP/TCP;interleaved`` or plain UDP ``client_port``, PLAY, TEARDOWN, GET/SET_PARAMETER keepalives; RTP
per RFC 6184 (single NAL unit packets and FU-A, marker bit on the last packet of a frame, 90 kHz timestamps,
SPS/PPS before every IDR). Optional HTTP Basic credentials (401 without them), 404 for unknown paths.

Each PLAY starts the path's clip from its first frame and loops it forever in real time; RTP timestamps keep
increasing across loops. Failure controls for tests: :meth:`RtspServer.stop` closes the listening socket and
every client connection (the camera drops out), :meth:`RtspServer.start` again binds the same port (it comes
back), :meth:`RtspServer.stall` keeps connections open but sends nothing more on a path, not even RTSP replies
(a hung camera), and :meth:`RtspServer.resume` lets it flow again.

The server runs its own event loop in a background thread, so it is driven from plain synchronous code::

    with RtspServer({"/cam1": generate_clip(FootageSpec())}) as server:
        url = server.url("/cam1")
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Coroutine, Mapping
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

from watchkeeper.simulator.errors import SimulatorError
from watchkeeper.simulator.footage import EncodedClip
from watchkeeper.simulator.rtsp_connection import Credentials, RtspConnection, ServerState

log = logging.getLogger(__name__)

__all__ = ["Credentials", "RtspServer"]

_CALL_TIMEOUT_S = 10.0


def _normalise(path: str) -> str:
    cleaned = "/" + path.strip("/")
    if cleaned == "/":
        raise SimulatorError("a camera path must not be empty")
    return cleaned


class _Running:
    """The parts of a started server: its loop, thread, listening server and client tasks."""

    def __init__(self, state: ServerState) -> None:
        self.loop = asyncio.new_event_loop()
        self.state = state
        self.server: asyncio.Server | None = None
        self.thread = threading.Thread(target=self._run, name="rtsp-sim", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()

    def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` in the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=_CALL_TIMEOUT_S)

    async def on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = RtspConnection(self.state, reader, writer)
        self.state.connections.add(connection)
        try:
            await connection.serve()
        except asyncio.CancelledError:
            # Shutdown cancels client tasks; ending quietly keeps asyncio's stream callback from logging it.
            log.debug("RTSP client task cancelled by shutdown")
        finally:
            self.state.connections.discard(connection)

    async def listen(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self.on_client, host, port, reuse_address=True)
        return int(self.server.sockets[0].getsockname()[1])

    async def shutdown(self) -> None:
        if self.server is not None:
            self.server.close()
        for connection in list(self.state.connections):
            connection.close()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.server is not None:
            await self.server.wait_closed()


class RtspServer:
    """Serves looping H.264 clips over RTSP, one clip per path, from a background thread.

    Args:
        clips: Footage per path, e.g. ``{"/cam1": clip}`` (a leading slash is added if missing).
        host: Address to bind (``127.0.0.1`` for tests, ``0.0.0.0`` to expose to the LAN).
        port: Port to bind; 0 picks a free one on the first :meth:`start` and keeps it afterwards.
        credentials: When given, every request needs these HTTP Basic credentials.
    """

    def __init__(
        self,
        clips: Mapping[str, EncodedClip],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: Credentials | None = None,
    ) -> None:
        if not clips:
            raise SimulatorError("an RTSP server needs at least one clip")
        self._clips = {_normalise(path): clip for path, clip in clips.items()}
        self._host = host
        self._port = port
        self._credentials = credentials
        self._stalled: set[str] = set()
        self._lock = threading.Lock()
        self._running: _Running | None = None

    @property
    def host(self) -> str:
        """The bound address."""
        return self._host

    @property
    def port(self) -> int:
        """The bound port (the chosen one once started with port 0)."""
        return self._port

    @property
    def paths(self) -> tuple[str, ...]:
        """The served paths, e.g. ``("/cam1", "/cam2")``."""
        return tuple(self._clips)

    @property
    def credentials(self) -> Credentials | None:
        """Credentials clients must present, if any."""
        return self._credentials

    @property
    def running(self) -> bool:
        """Whether the server is accepting connections."""
        return self._running is not None

    def clip(self, path: str) -> EncodedClip:
        """The footage served on ``path``."""
        return self._clips[self._known(path)]

    def url(self, path: str, *, with_credentials: bool = True) -> str:
        """The ``rtsp://`` URL of ``path``, with the credentials embedded when there are any.

        Args:
            path: A served path.
            with_credentials: Embed ``user:password@`` when the server requires credentials.

        Returns:
            The URL a client opens.
        """
        path = self._known(path)
        userinfo = ""
        if with_credentials and self._credentials is not None:
            user = quote(self._credentials.username, safe="")
            userinfo = f"{user}:{quote(self._credentials.password, safe='')}@"
        host = "127.0.0.1" if self._host in ("0.0.0.0", "") else self._host  # noqa: S104 - display only
        return f"rtsp://{userinfo}{host}:{self._port}{path}"

    def urls(self, *, with_credentials: bool = True) -> dict[str, str]:
        """The URL of every path, keyed by path."""
        return {path: self.url(path, with_credentials=with_credentials) for path in self._clips}

    def client_count(self) -> int:
        """Number of open client connections."""
        with self._lock:
            running = self._running
        if running is None:
            return 0
        return int(running.call(_count(running.state)))

    def start(self) -> None:
        """Bind the port and start serving (again, on the same port, after :meth:`stop`).

        Raises:
            SimulatorError: If already running or the port cannot be bound.
        """
        with self._lock:
            if self._running is not None:
                raise SimulatorError("RTSP server is already running")
            flowing: dict[str, asyncio.Event] = {}
            running = _Running(ServerState(clips=self._clips, credentials=self._credentials, flowing=flowing))
            running.thread.start()
            try:
                running.call(_init_events(flowing, self._clips, self._stalled))
                self._port = running.call(running.listen(self._host, self._port))
            except OSError as err:
                _halt(running)
                raise SimulatorError(f"cannot listen on {self._host}:{self._port}: {err}") from err
            except BaseException:
                _halt(running)
                raise
            self._running = running
        log.info("simulated RTSP camera(s) listening on %s:%s %s", self._host, self._port, list(self._clips))

    def stop(self) -> None:
        """Close the listening socket and every client connection; a no-op when not running."""
        with self._lock:
            running, self._running = self._running, None
        if running is None:
            return
        try:
            running.call(running.shutdown())
        finally:
            _halt(running)
        log.info("simulated RTSP server on port %s stopped", self._port)

    def stall(self, path: str) -> None:
        """Hang ``path``: connections stay open but no RTP packet or RTSP reply is sent until resumed."""
        self._set_flowing(self._known(path), flowing=False)

    def resume(self, path: str) -> None:
        """Undo :meth:`stall`; playing clients carry on and new clients are answered again."""
        self._set_flowing(self._known(path), flowing=True)

    def is_stalled(self, path: str) -> bool:
        """Whether ``path`` is stalled."""
        with self._lock:
            return self._known(path) in self._stalled

    def _known(self, path: str) -> str:
        normalised = _normalise(path)
        if normalised not in self._clips:
            raise SimulatorError(f"unknown camera path {path!r}; served: {list(self._clips)}")
        return normalised

    def _set_flowing(self, path: str, *, flowing: bool) -> None:
        with self._lock:
            if flowing:
                self._stalled.discard(path)
            else:
                self._stalled.add(path)
            running = self._running
        if running is not None:
            running.call(_toggle(running.state.flowing[path], flowing))

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


async def _init_events(
    flowing: dict[str, asyncio.Event], paths: Mapping[str, object], stalled: set[str]
) -> None:
    for path in paths:
        event = asyncio.Event()
        if path not in stalled:
            event.set()
        flowing[path] = event


async def _toggle(event: asyncio.Event, flowing: bool) -> None:
    if flowing:
        event.set()
    else:
        event.clear()


async def _count(state: ServerState) -> int:
    return len(state.connections)


def _halt(running: _Running) -> None:
    with contextlib.suppress(RuntimeError):
        running.loop.call_soon_threadsafe(running.loop.stop)
    running.thread.join(timeout=_CALL_TIMEOUT_S)
