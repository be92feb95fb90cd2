"""One client connection of the simulated RTSP camera: request handling, sessions and real-time streaming.

Runs entirely inside the server's event loop (see :mod:`watchkeeper.simulator.rtsp_server`).
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from watchkeeper.simulator.errors import SimulatorError
from watchkeeper.simulator.footage import EncodedClip
from watchkeeper.simulator.rtp import (
    RtpPacketizer,
    RtspRequest,
    build_sdp,
    format_response,
    interleave,
    read_request,
)

log = logging.getLogger(__name__)

_PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
_SESSION_TIMEOUT_S = 60


@dataclass(frozen=True, slots=True)
class Credentials:
    """User name and password a client must present (HTTP Basic) when the server requires them."""

    username: str
    password: str = field(repr=False)

    def header_value(self) -> str:
        """The expected ``Authorization`` header value."""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"


@dataclass(slots=True)
class ServerState:
    """State shared by all connections of one running server (lives in the server's event loop).

    Attributes:
        clips: Footage per path (``/cam1``...).
        credentials: Required credentials, or None for an open camera.
        flowing: Per path, an event that is set while the path is not stalled.
        connections: Open client connections.
    """

    clips: dict[str, EncodedClip]
    credentials: Credentials | None
    flowing: dict[str, asyncio.Event]
    connections: set[RtspConnection] = field(default_factory=set)


class _Sink:
    """Where a session's RTP packets go."""

    async def send(self, packets: list[bytes]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release sockets owned by the sink."""


class _TcpSink(_Sink):
    """RTP interleaved on the RTSP connection."""

    def __init__(self, writer: asyncio.StreamWriter, channel: int) -> None:
        self.writer = writer
        self.channel = channel

    async def send(self, packets: list[bytes]) -> None:
        self.writer.write(interleave(self.channel, packets))
        await self.writer.drain()


class _UdpSink(_Sink):
    """RTP over UDP to the client's ports."""

    def __init__(
        self, rtp: asyncio.DatagramTransport, rtcp: asyncio.DatagramTransport, addr: tuple[str, int]
    ):
        self.rtp = rtp
        self.rtcp = rtcp
        self.addr = addr

    async def send(self, packets: list[bytes]) -> None:
        for packet in packets:
            self.rtp.sendto(packet, self.addr)

    def close(self) -> None:
        self.rtp.close()
        self.rtcp.close()


@dataclass(slots=True)
class _Session:
    """One SETUP of the single track of a path."""

    session_id: str
    path: str
    url: str
    sink: _Sink
    packetizer: RtpPacketizer
    timestamp_base: int
    task: asyncio.Task[None] | None = None


async def _open_udp_pair(host: str) -> tuple[asyncio.DatagramTransport, asyncio.DatagramTransport]:
    """Bind two UDP sockets (RTP, RTCP); whatever arrives on them (punch packets, RTCP RR) is ignored."""
    loop = asyncio.get_running_loop()
    rtp, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(host, 0))
    rtcp, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(host, 0))
    return rtp, rtcp


class RtspConnection:
    """Serves one RTSP client connection.

    Args:
        state: The server's shared state.
        reader: Stream reader of the connection.
        writer: Stream writer of the connection.
    """

    def __init__(
        self, state: ServerState, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.state = state
        self.reader = reader
        self.writer = writer
        self.sessions: dict[str, _Session] = {}
        peer = writer.get_extra_info("peername")
        local = writer.get_extra_info("sockname")
        self.peer_host: str = peer[0] if peer else "127.0.0.1"
        self.local_host: str = local[0] if local else "127.0.0.1"
        self._handlers: dict[str, Callable[[RtspRequest, str | None], Awaitable[bytes]]] = {
            "DESCRIBE": self._describe,
            "SETUP": self._setup,
            "PLAY": self._play,
            "TEARDOWN": self._teardown,
            "GET_PARAMETER": self._keepalive,
            "SET_PARAMETER": self._keepalive,
        }

    async def serve(self) -> None:
        """Answer requests until the client disconnects or the server closes the connection."""
        try:
            while True:
                request = await read_request(self.reader)
                if request is None:
                    break
                response = await self._handle(request)
                self.writer.write(response)
                await self.writer.drain()
        except SimulatorError as err:
            log.warning("dropping RTSP client %s: %s", self.peer_host, err)
        except ConnectionError:
            log.debug("RTSP client %s went away", self.peer_host)
        finally:
            self.close()

    def close(self) -> None:
        """Stop all streaming and close the connection."""
        for session in self.sessions.values():
            if session.task is not None:
                session.task.cancel()
            session.sink.close()
        self.sessions.clear()
        self.writer.close()

    def _authorized(self, request: RtspRequest) -> bool:
        expected = self.state.credentials
        if expected is None:
            return True
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), expected.header_value().encode())

    def _resolve(self, request: RtspRequest) -> str | None:
        path = urlsplit(request.url).path.rstrip("/") or "/"
        if path in self.state.clips:
            return path
        head, _, tail = path.rpartition("/")
        if tail.startswith("trackID=") and head in self.state.clips:
            return head
        session = self.sessions.get(_session_id(request))
        return session.path if session else None

    async def _handle(self, request: RtspRequest) -> bytes:
        if not self._authorized(request):
            auth = {"WWW-Authenticate": 'Basic realm="watchkeeper-sim"'}
            return format_response(401, request.cseq, auth)
        if request.method == "OPTIONS":
            return format_response(200, request.cseq, {"Public": _PUBLIC})
        handler = self._handlers.get(request.method)
        if handler is None:
            return format_response(405, request.cseq, {"Allow": _PUBLIC})
        path = self._resolve(request)
        if path is None and request.method in ("DESCRIBE", "SETUP", "PLAY"):
            return format_response(404, request.cseq)
        if path is not None:
            await self.state.flowing[path].wait()  # a hung camera does not answer either
        return await handler(request, path)

    async def _describe(self, request: RtspRequest, path: str | None) -> bytes:
        clip = self.state.clips[path or ""]
        base = request.url.rstrip("/") + "/"
        sdp = build_sdp(clip, self.local_host, secrets.randbits(31))
        headers = {"Content-Type": "application/sdp", "Content-Base": base}
        return format_response(200, request.cseq, headers, sdp)

    async def _setup(self, request: RtspRequest, path: str | None) -> bytes:
        transport = request.headers.get("transport", "")
        sink, reply = await self._make_sink(transport)
        if sink is None:
            return format_response(461, request.cseq)
        session_id = _session_id(request) or secrets.token_hex(8)
        ssrc = secrets.randbits(32)
        self.sessions[session_id] = _Session(
            session_id=session_id,
            path=path or "",
            url=request.url,
            sink=sink,
            packetizer=RtpPacketizer(ssrc, first_sequence=secrets.randbits(16)),
            timestamp_base=secrets.randbits(32),
        )
        headers = {
            "Transport": f"{reply};ssrc={ssrc:08X}",
            "Session": f"{session_id};timeout={_SESSION_TIMEOUT_S}",
        }
        return format_response(200, request.cseq, headers)

    async def _make_sink(self, transport: str) -> tuple[_Sink | None, str]:
        interleaved = re.search(r"interleaved=(\d+)(?:-(\d+))?", transport)
        if interleaved:
            rtp_channel = int(interleaved.group(1))
            rtcp_channel = int(interleaved.group(2) or rtp_channel + 1)
            reply = f"RTP/AVP/TCP;unicast;interleaved={rtp_channel}-{rtcp_channel}"
            return _TcpSink(self.writer, rtp_channel), reply
        client_port = re.search(r"client_port=(\d+)(?:-(\d+))?", transport)
        if client_port and "multicast" not in transport:
            rtp_port = int(client_port.group(1))
            rtcp_port = int(client_port.group(2) or rtp_port + 1)
            rtp, rtcp = await _open_udp_pair(self.local_host)
            server_rtp, server_rtcp = rtp.get_extra_info("sockname")[1], rtcp.get_extra_info("sockname")[1]
            reply = (
                f"RTP/AVP;unicast;client_port={rtp_port}-{rtcp_port};server_port={server_rtp}-{server_rtcp}"
            )
            return _UdpSink(rtp, rtcp, (self.peer_host, rtp_port)), reply
        return None, ""

    def _sessions_for(self, request: RtspRequest) -> list[_Session]:
        wanted = _session_id(request)
        return [s for s in self.sessions.values() if not wanted or s.session_id == wanted]

    async def _play(self, request: RtspRequest, path: str | None) -> bytes:
        sessions = self._sessions_for(request)
        if not sessions:
            return format_response(454, request.cseq)
        infos = []
        for session in sessions:
            infos.append(
                f"url={session.url};seq={session.packetizer.sequence};rtptime={session.timestamp_base}"
            )
            if session.task is None:
                session.task = asyncio.create_task(self._stream(session), name=f"rtsp-stream{session.path}")
        headers = {"Session": sessions[0].session_id, "Range": "npt=0.000-", "RTP-Info": ",".join(infos)}
        return format_response(200, request.cseq, headers)

    async def _teardown(self, request: RtspRequest, path: str | None) -> bytes:
        for session in self._sessions_for(request):
            if session.task is not None:
                session.task.cancel()
            session.sink.close()
            self.sessions.pop(session.session_id, None)
        return format_response(200, request.cseq)

    async def _keepalive(self, request: RtspRequest, path: str | None) -> bytes:
        headers = {"Session": _session_id(request)} if _session_id(request) else {}
        return format_response(200, request.cseq, headers)

    async def _stream(self, session: _Session) -> None:
        """Send the path's clip in real time, looping forever with ever-increasing timestamps."""
        clip = self.state.clips[session.path]
        flowing = self.state.flowing[session.path]
        loop = asyncio.get_running_loop()
        fps = clip.spec.fps
        units = clip.access_units
        start = loop.time()
        index = 0
        try:
            while True:
                if not flowing.is_set():
                    await flowing.wait()
                    start = loop.time() - index / fps  # carry on from where the camera hung
                delay = start + index / fps - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if not flowing.is_set():
                    continue
                timestamp = session.timestamp_base + clip.spec.pts_90k(index)
                await session.sink.send(
                    session.packetizer.packetize(clip, units[index % len(units)], timestamp)
                )
                index += 1
        except ConnectionError:
            log.debug("RTSP client %s stopped receiving %s", self.peer_host, session.path)


def _session_id(request: RtspRequest) -> str:
    return request.headers.get("session", "").split(";", 1)[0].strip()
