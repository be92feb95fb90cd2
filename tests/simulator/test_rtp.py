from __future__ import annotations

import asyncio
import struct

import pytest

from watchkeeper.simulator import EncodedClip, SimulatorError
from watchkeeper.simulator.rtp import RtpPacketizer, build_sdp, format_response, interleave, read_request


def _header(packet: bytes) -> tuple[bool, int, int, int]:
    _, mpt, seq, ts, _ = struct.unpack("!BBHII", packet[:12])
    return bool(mpt & 0x80), mpt & 0x7F, seq, ts


def _reassemble(packets: list[bytes]) -> list[bytes]:
    nals: list[bytes] = []
    current = b""
    for packet in packets:
        payload = packet[12:]
        if payload[0] & 0x1F != 28:
            nals.append(payload)
            continue
        indicator, fu_header = payload[0], payload[1]
        if fu_header & 0x80:
            current = bytes(((indicator & 0xE0) | (fu_header & 0x1F),))
        current += payload[2:]
        if fu_header & 0x40:
            nals.append(current)
    return nals


def test_keyframe_is_fragmented_and_reassembles(small_clip: EncodedClip) -> None:
    packetizer = RtpPacketizer(ssrc=0x1234, first_sequence=65534, max_payload=1000)
    unit = small_clip.access_units[0]
    assert unit.keyframe
    assert unit.size > 1000
    packets = packetizer.packetize(small_clip, unit, timestamp=2**32 + 5)
    headers = [_header(p) for p in packets]
    assert [h[0] for h in headers] == [False] * (len(packets) - 1) + [True]
    assert {h[1] for h in headers} == {96}
    assert [h[2] for h in headers][:3] == [65534, 65535, 0]  # sequence numbers wrap
    assert {h[3] for h in headers} == {5}  # timestamps wrap at 32 bits
    assert all(len(p) <= 12 + 1000 for p in packets)
    assert _reassemble(packets) == [small_clip.sps, small_clip.pps, *unit.nals]


def test_small_frame_is_a_single_nal_packet(small_clip: EncodedClip) -> None:
    packetizer = RtpPacketizer(ssrc=1)
    unit = small_clip.access_units[1]
    packets = packetizer.packetize(small_clip, unit, timestamp=4500)
    assert not unit.keyframe
    assert _reassemble(packets) == list(unit.nals)
    assert _header(packets[-1])[0]


def test_interleave_frames_packets() -> None:
    assert interleave(2, [b"abc", b"d"]) == b"$\x02\x00\x03abc$\x02\x00\x01d"


def test_sdp_describes_h264(small_clip: EncodedClip) -> None:
    sdp = build_sdp(small_clip, "127.0.0.1", 42)
    assert "a=rtpmap:96 H264/90000" in sdp
    assert f"profile-level-id={small_clip.profile_level_id}" in sdp
    assert f"sprop-parameter-sets={small_clip.sprop_parameter_sets}" in sdp
    assert "packetization-mode=1" in sdp
    assert "a=control:trackID=0" in sdp


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_read_request_skips_interleaved_frames() -> None:
    data = (
        b"$\x01\x00\x02xy"
        + b"SET_PARAMETER rtsp://h/cam1 RTSP/1.0\r\nCSeq: 7\r\nContent-Length: 3\r\n\r\nabc"
    )
    reader = _reader(data)
    request = await read_request(reader)
    assert request is not None
    assert (request.method, request.url, request.cseq, request.body) == (
        "SET_PARAMETER",
        "rtsp://h/cam1",
        "7",
        b"abc",
    )
    assert await read_request(reader) is None


async def test_read_request_rejects_garbage() -> None:
    with pytest.raises(SimulatorError):
        await read_request(_reader(b"HELLO\r\n\r\n"))


def test_format_response() -> None:
    raw = format_response(200, "3", {"Public": "OPTIONS"}, "v=0\r\n")
    assert raw.startswith(b"RTSP/1.0 200 OK\r\nCSeq: 3\r\n")
    assert b"Public: OPTIONS\r\n" in raw
    assert raw.endswith(b"Content-Length: 5\r\n\r\nv=0\r\n")
