from __future__ import annotations

import contextlib
import dataclasses
import itertools
import socket
import threading
import time
from collections.abc import Iterator

import av
import pytest

from tests.simulator.conftest import SMALL_SPEC
from watchkeeper.simulator import (
    Credentials,
    EncodedClip,
    RtspServer,
    SimulatorError,
    run_forever,
    serve_simulated_cameras,
)

FRAME_90K = 90_000 // SMALL_SPEC.fps


def _open(
    url: str, transport: str = "tcp", timeout: tuple[float, float] = (5.0, 2.0)
) -> av.container.InputContainer:
    return av.open(url, options={"rtsp_transport": transport}, timeout=timeout)


def _packets(container: av.container.InputContainer, count: int) -> list[av.Packet]:
    packets: list[av.Packet] = []
    for packet in container.demux(video=0):
        if packet.size:
            packets.append(packet)
        if len(packets) >= count:
            break
    return packets


def _check_timeline(packets: list[av.Packet]) -> None:
    """Pts increase by one frame each; keyframes every 10 frames. FFmpeg leaves the very first pts unset."""
    timed = [p for p in packets if p.pts is not None]
    assert len(timed) >= len(packets) - 1
    pts = [p.pts for p in timed]
    assert all(b - a == FRAME_90K for a, b in itertools.pairwise(pts))
    for packet in timed:
        assert packet.is_keyframe == ((packet.pts // FRAME_90K) % SMALL_SPEC.keyframe_interval == 0)


def test_tcp_stream_decodes_and_loops_with_increasing_pts(rtsp_server: RtspServer) -> None:
    with _open(rtsp_server.url("/cam1")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert rtsp_server.client_count() == 1
        packets = _packets(container, SMALL_SPEC.frame_count + 10)  # more than one loop
        _check_timeline(packets)
        assert packets[0].is_keyframe
        assert packets[-1].pts > SMALL_SPEC.frame_count * FRAME_90K
        frames = [frame for packet in packets for frame in stream.codec_context.decode(packet)]
    assert len(frames) >= SMALL_SPEC.frame_count
    assert {(f.width, f.height) for f in frames} == {(320, 180)}


def test_udp_transport(rtsp_server: RtspServer) -> None:
    with _open(rtsp_server.url("/cam2"), transport="udp") as container:
        packets = _packets(container, 15)
    _check_timeline(packets)


def test_stop_drops_clients_and_start_comes_back_on_same_port(rtsp_server: RtspServer) -> None:
    url = rtsp_server.url("/cam1")
    port = rtsp_server.port
    container = _open(url)
    try:
        assert _packets(container, 3)
        rtsp_server.stop()
        started = time.monotonic()
        with contextlib.suppress(av.FFmpegError):
            for _ in container.demux(video=0):
                pass
        assert time.monotonic() - started < 5.0  # the stream ended (EOF), it did not hang
    finally:
        container.close()
    with pytest.raises(av.FFmpegError):
        _open(url)
    rtsp_server.start()
    assert rtsp_server.port == port
    with _open(url) as container:
        _check_timeline(_packets(container, 12))


def test_stall_hangs_clients_and_resume_recovers(rtsp_server: RtspServer) -> None:
    url = rtsp_server.url("/cam1")
    with _open(url, timeout=(5.0, 1.0)) as container:
        assert _packets(container, 3)
        rtsp_server.stall("/cam1")
        assert rtsp_server.is_stalled("/cam1")
        started = time.monotonic()
        with pytest.raises(av.FFmpegError):
            for _ in container.demux(video=0):
                pass
        assert time.monotonic() - started < 6.0
    with pytest.raises(av.FFmpegError):
        _open(url, timeout=(1.0, 1.0))  # a hung camera does not even answer RTSP
    rtsp_server.resume("/cam1")
    assert not rtsp_server.is_stalled("/cam1")
    with _open(url) as container:
        _check_timeline(_packets(container, 12))


def test_stall_affects_only_its_path(rtsp_server: RtspServer) -> None:
    rtsp_server.stall("/cam1")
    with _open(rtsp_server.url("/cam2")) as container:
        assert len(_packets(container, 5)) == 5


def test_unknown_path_is_not_found(rtsp_server: RtspServer) -> None:
    url = rtsp_server.url("/cam1").replace("/cam1", "/nope")
    with pytest.raises(av.HTTPNotFoundError):
        _open(url)


def test_credentials_are_required(small_clip: EncodedClip) -> None:
    server = RtspServer({"/cam1": small_clip}, credentials=Credentials("admin", "pa:ss word"))
    with server:
        with pytest.raises(av.HTTPUnauthorizedError):
            _open(server.url("/cam1", with_credentials=False))
        wrong = server.url("/cam1").replace("admin", "intruder")
        with pytest.raises(av.HTTPUnauthorizedError):
            _open(wrong)
        assert server.url("/cam1").startswith("rtsp://admin:pa%3Ass%20word@127.0.0.1:")
        with _open(server.url("/cam1")) as container:
            assert len(_packets(container, 5)) == 5


def _exchange(port: int, request: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.decode("latin-1")


def test_raw_rtsp_replies(rtsp_server: RtspServer) -> None:
    port = rtsp_server.port
    options = _exchange(port, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
    assert options.startswith("RTSP/1.0 200 OK\r\nCSeq: 1")
    assert "GET_PARAMETER" in options
    describe = _exchange(port, f"DESCRIBE rtsp://127.0.0.1:{port}/cam1 RTSP/1.0\r\nCSeq: 2\r\n\r\n")
    assert "Content-Type: application/sdp" in describe
    assert f"Content-Base: rtsp://127.0.0.1:{port}/cam1/" in describe
    record = _exchange(port, f"RECORD rtsp://127.0.0.1:{port}/cam1 RTSP/1.0\r\nCSeq: 3\r\n\r\n")
    assert record.startswith("RTSP/1.0 405")
    setup = (
        f"SETUP rtsp://127.0.0.1:{port}/cam1/trackID=0 RTSP/1.0\r\n"
        "CSeq: 4\r\nTransport: RTP/AVP;multicast\r\n\r\n"
    )
    assert _exchange(port, setup).startswith("RTSP/1.0 461")
    play = f"PLAY rtsp://127.0.0.1:{port}/cam1/ RTSP/1.0\r\nCSeq: 5\r\nSession: nope\r\n\r\n"
    assert _exchange(port, play).startswith("RTSP/1.0 454")


def test_raw_unauthorized_reply_asks_for_basic(small_clip: EncodedClip) -> None:
    with RtspServer({"/cam1": small_clip}, credentials=Credentials("u", "p")) as server:
        reply = _exchange(server.port, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
    assert reply.startswith("RTSP/1.0 401")
    assert 'WWW-Authenticate: Basic realm="watchkeeper-sim"' in reply


def test_server_api_errors(small_clip: EncodedClip, rtsp_server: RtspServer) -> None:
    with pytest.raises(SimulatorError):
        RtspServer({})
    with pytest.raises(SimulatorError):
        rtsp_server.start()
    with pytest.raises(SimulatorError):
        rtsp_server.stall("/cam9")
    with pytest.raises(SimulatorError):
        rtsp_server.url("/cam9")
    assert rtsp_server.paths == ("/cam1", "/cam2")
    assert rtsp_server.clip("cam2") is small_clip
    with RtspServer({"/x": small_clip}) as busy:
        clash = RtspServer({"/x": small_clip}, port=busy.port)
        # SO_REUSEADDR does not allow two listeners on one port
        with pytest.raises(SimulatorError):
            clash.start()
        assert not clash.running


def test_stop_is_idempotent_and_leaves_no_thread(small_clip: EncodedClip) -> None:
    before = {t.ident for t in threading.enumerate()}  # other servers (session fixtures) may be running
    server = RtspServer({"/cam1": small_clip})
    server.stop()
    server.start()
    assert server.running
    server.stop()
    server.stop()
    assert not server.running
    assert not [t for t in threading.enumerate() if t.name == "rtsp-sim" and t.ident not in before]


@pytest.fixture
def tiny_cameras() -> Iterator[RtspServer]:
    spec = dataclasses.replace(SMALL_SPEC, duration_s=1.0)
    with serve_simulated_cameras(2, spec) as server:
        yield server


def test_serve_simulated_cameras(tiny_cameras: RtspServer) -> None:
    assert tiny_cameras.paths == ("/cam1", "/cam2")
    assert tiny_cameras.clip("/cam1").spec.seed != tiny_cameras.clip("/cam2").spec.seed
    assert tiny_cameras.clip("/cam1").sps == tiny_cameras.clip("/cam2").sps
    assert tiny_cameras.clip("/cam1").access_units[0] != tiny_cameras.clip("/cam2").access_units[0]
    with _open(tiny_cameras.urls()["/cam2"]) as container:
        assert len(_packets(container, 5)) == 5


def test_serve_simulated_cameras_rejects_zero() -> None:
    with pytest.raises(SimulatorError), serve_simulated_cameras(0):
        pass


def test_run_forever_returns_when_stopped() -> None:
    stop = threading.Event()
    spec = dataclasses.replace(SMALL_SPEC, duration_s=0.5)
    worker = threading.Thread(target=run_forever, kwargs={"count": 1, "spec": spec, "port": 0, "stop": stop})
    worker.start()
    time.sleep(0.5)
    stop.set()
    worker.join(timeout=10)
    assert not worker.is_alive()
