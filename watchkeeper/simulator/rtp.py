"""RTP packetization of H.264 (RFC 6184) and the RTSP message plumbing of the simulator.

Only what a camera needs: single NAL unit packets, FU-A fragmentation, the SDP of one H.264 track, and
parsing/formatting of RTSP 1.0 requests and responses (including skipping RTP/RTCP frames that a client
interleaves on the RTSP connection).
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

from watchkeeper.simulator.errors import SimulatorError
from watchkeeper.simulator.footage import AccessUnit, EncodedClip

PAYLOAD_TYPE = 96
"""Dynamic RTP payload type used for H.264."""

MAX_PAYLOAD = 1400
"""Largest RTP payload; bigger NAL units are split into FU-A fragments."""

_FU_A = 28
_MAX_HEADER_BYTES = 16 * 1024

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport",
    500: "Internal Server Error",
}


class RtpPacketizer:
    """Turns access units into RTP packets with running sequence numbers.

    Args:
        ssrc: Synchronization source identifier of the stream.
        first_sequence: Sequence number of the first packet.
        max_payload: Largest payload before FU-A fragmentation.
    """

    def __init__(self, ssrc: int, first_sequence: int = 0, max_payload: int = MAX_PAYLOAD) -> None:
        self.ssrc = ssrc & 0xFFFFFFFF
        self.sequence = first_sequence & 0xFFFF
        self.max_payload = max_payload

    def _packet(self, payload: bytes, timestamp: int, marker: bool) -> bytes:
        header = struct.pack(
            "!BBHII",
            0x80,
            (0x80 if marker else 0) | PAYLOAD_TYPE,
            self.sequence,
            timestamp & 0xFFFFFFFF,
            self.ssrc,
        )
        self.sequence = (self.sequence + 1) & 0xFFFF
        return header + payload

    def packetize_nal(self, nal: bytes, timestamp: int, last: bool) -> list[bytes]:
        """Packetize one NAL unit (single NAL unit packet, or FU-A fragments when large).

        Args:
            nal: The NAL unit without start code.
            timestamp: RTP timestamp (90 kHz) of its access unit.
            last: Whether it is the last NAL unit of the access unit (sets the marker bit).

        Returns:
            The RTP packets in order.
        """
        if len(nal) <= self.max_payload:
            return [self._packet(nal, timestamp, last)]
        indicator = (nal[0] & 0xE0) | _FU_A
        kind = nal[0] & 0x1F
        body = nal[1:]
        chunk = self.max_payload - 2
        packets: list[bytes] = []
        for offset in range(0, len(body), chunk):
            start = offset == 0
            end = offset + chunk >= len(body)
            fu_header = (0x80 if start else 0) | (0x40 if end else 0) | kind
            payload = bytes((indicator, fu_header)) + body[offset : offset + chunk]
            packets.append(self._packet(payload, timestamp, last and end))
        return packets

    def packetize(self, clip: EncodedClip, unit: AccessUnit, timestamp: int) -> list[bytes]:
        """Packetize one access unit; SPS and PPS are sent in front of every IDR frame.

        Args:
            clip: The clip the unit belongs to (for its parameter sets).
            unit: The access unit.
            timestamp: RTP timestamp (90 kHz).

        Returns:
            The RTP packets; the marker bit is set on the last one.
        """
        nals = ((clip.sps, clip.pps) if unit.keyframe else ()) + unit.nals
        packets: list[bytes] = []
        for i, nal in enumerate(nals):
            packets.extend(self.packetize_nal(nal, timestamp, last=i == len(nals) - 1))
        return packets


def interleave(channel: int, packets: list[bytes]) -> bytes:
    """Frame packets for RTP-over-RTSP (``$`` + channel + 16-bit length, RFC 2326 section 10.12)."""
    return b"".join(b"$" + struct.pack("!BH", channel, len(p)) + p for p in packets)


def build_sdp(clip: EncodedClip, host: str, session_id: int) -> str:
    """The SDP describing one H.264 track of ``clip``.

    Args:
        clip: The footage served on the path.
        host: Address the server is reached on (for the origin line).
        session_id: Numeric session id for the origin line.

    Returns:
        SDP text with CRLF line endings.
    """
    lines = [
        "v=0",
        f"o=- {session_id} 1 IN IP4 {host}",
        "s=Watchkeeper simulated camera",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "a=control:*",
        "a=range:npt=0-",
        f"m=video 0 RTP/AVP {PAYLOAD_TYPE}",
        f"a=rtpmap:{PAYLOAD_TYPE} H264/90000",
        f"a=fmtp:{PAYLOAD_TYPE} packetization-mode=1;profile-level-id={clip.profile_level_id};"
        f"sprop-parameter-sets={clip.sprop_parameter_sets}",
        f"a=framerate:{clip.spec.fps}",
        "a=control:trackID=0",
    ]
    return "\r\n".join(lines) + "\r\n"


@dataclass(frozen=True, slots=True)
class RtspRequest:
    """One parsed RTSP request.

    Attributes:
        method: Upper-case method name.
        url: Request URL as sent.
        headers: Header names lower-cased to values.
        body: Request body (usually empty).
    """

    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def cseq(self) -> str:
        """The CSeq to echo back."""
        return self.headers.get("cseq", "0")


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("RTSP/"):
        raise SimulatorError(f"malformed RTSP request line: {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return parts[0].upper(), parts[1], headers


async def read_request(reader: asyncio.StreamReader) -> RtspRequest | None:
    """Read the next RTSP request, skipping interleaved RTP/RTCP frames sent by the client.

    Args:
        reader: The connection's stream reader.

    Returns:
        The request, or None when the client closed the connection.

    Raises:
        SimulatorError: If the client sent something that is not RTSP.
    """
    try:
        while True:
            first = await reader.readexactly(1)
            if first == b"$":
                _, length = struct.unpack("!BH", await reader.readexactly(3))
                await reader.readexactly(length)
                continue
            if first in b"\r\n":
                continue
            head = first + await reader.readuntil(b"\r\n\r\n")
            if len(head) > _MAX_HEADER_BYTES:
                raise SimulatorError("RTSP request header too large")
            method, url, headers = _parse_head(head[:-4])
            length = int(headers.get("content-length", "0") or "0")
            body = await reader.readexactly(length) if length > 0 else b""
            return RtspRequest(method=method, url=url, headers=headers, body=body)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    except (asyncio.LimitOverrunError, ValueError) as err:
        raise SimulatorError(f"malformed RTSP request: {err}") from err


def format_response(status: int, cseq: str, headers: dict[str, str] | None = None, body: str = "") -> bytes:
    """Format an RTSP 1.0 response.

    Args:
        status: Status code.
        cseq: CSeq of the request being answered.
        headers: Extra headers.
        body: Body text (e.g. SDP).

    Returns:
        The encoded response.
    """
    payload = body.encode("utf-8")
    lines = [f"RTSP/1.0 {status} {REASONS.get(status, 'Error')}", f"CSeq: {cseq}", "Server: watchkeeper-sim"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if payload:
        lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload
