"""Test media and a tiny real HTTP server: MJPEG over multipart/x-mixed-replace and static files.

Frames are synthetic (a gradient with a moving square) and encoded with PyAV's own encoders (mjpeg,
libx265, libvpx), so every test input is produced here and nothing is downloaded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av
import numpy as np

WIDTH, HEIGHT, FPS = 320, 180, 10
BOUNDARY = "wkframe"


def _frames(count: int) -> Iterator[av.VideoFrame]:
    ramp = np.tile(np.linspace(0, 255, WIDTH, dtype=np.uint8), (HEIGHT, 1))
    for index in range(count):
        image = np.stack([ramp, np.roll(ramp, index * 4, axis=1), np.full_like(ramp, 96)], axis=-1)
        x = (index * 8) % (WIDTH - 40)
        image[60:100, x : x + 40] = 255
        yield av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")


def mjpeg_frames(count: int = 30) -> list[bytes]:
    """``count`` JPEG images encoded by PyAV's mjpeg encoder."""
    context = av.CodecContext.create("mjpeg", "w")
    context.width, context.height, context.pix_fmt = WIDTH, HEIGHT, "yuvj420p"
    context.time_base = Fraction(1, FPS)
    images: list[bytes] = []
    for index, frame in enumerate(_frames(count)):
        converted = frame.reformat(format="yuvj420p")
        converted.pts = index
        images.extend(bytes(packet) for packet in context.encode(converted))
    images.extend(bytes(packet) for packet in context.encode(None))
    return images


def write_video(path: Path, codec: str, seconds: float = 3.0, options: dict[str, str] | None = None) -> Path:
    """Write ``seconds`` of synthetic video encoded with ``codec`` (1 s GOP) into ``path``."""
    container_format = "matroska" if path.suffix == ".mkv" else "mp4"
    with av.open(str(path), "w", format=container_format) as output:
        stream: Any = output.add_stream(codec, rate=FPS, options=options or {})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.gop_size = FPS
        for index, frame in enumerate(_frames(round(seconds * FPS))):
            converted = frame.reformat(format="yuv420p")
            converted.pts = index
            output.mux(stream.encode(converted))
        output.mux(stream.encode(None))
    return path


HEVC_OPTIONS = {"x265-params": "log-level=none:keyint=10:min-keyint=10:bframes=0"}


@dataclass
class _State:
    jpegs: list[bytes]
    files: dict[str, bytes]
    stop: threading.Event = field(default_factory=threading.Event)
    stalled: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        state = self.server.state
        if self.path == "/mjpeg":
            self._mjpeg(state)
        elif self.path.startswith("/files/") and self.path[7:] in state.files:
            self._file(state.files[self.path[7:]])
        else:
            self.send_error(HTTPStatus.NOT_FOUND)

    def _mjpeg(self, state: _State) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", f"multipart/x-mixed-replace;boundary={BOUNDARY}")
        self.end_headers()
        index = 0
        try:
            while not state.stop.is_set():
                if state.stalled.is_set():
                    time.sleep(0.05)
                    continue
                jpeg = state.jpegs[index % len(state.jpegs)]
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                self.wfile.write(head.encode() + jpeg + b"\r\n")
                self.wfile.flush()
                index += 1
                time.sleep(1 / FPS)
        except (BrokenPipeError, ConnectionResetError):
            return

    def _file(self, data: bytes) -> None:
        start = 0
        header = self.headers.get("Range", "")
        if header.startswith("bytes="):
            start = int(header[6:].split("-", 1)[0] or 0)
        if start >= len(data) and data:
            self.send_error(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            return
        self.send_response(HTTPStatus.PARTIAL_CONTENT if start else HTTPStatus.OK)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(data) - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        try:
            self.wfile.write(data[start:])
        except (BrokenPipeError, ConnectionResetError):
            return


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: _State) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class MediaHttpServer:
    """Serves ``/mjpeg`` (a live MJPEG camera at 10 fps, looping) and ``/files/<name>`` (with Range)."""

    def __init__(self, jpegs: list[bytes], files: dict[str, bytes] | None = None) -> None:
        self._state = _State(jpegs, dict(files or {}))
        self._server = _Server(self._state)
        self._thread = threading.Thread(target=self._server.serve_forever, name="media-http", daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        """``http://127.0.0.1:<port><path>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def add_file(self, name: str, data: bytes) -> str:
        """Serve ``data`` at ``/files/<name>`` and return its URL."""
        self._state.files[name] = data
        return self.url(f"/files/{name}")

    def stall(self) -> None:
        """Keep MJPEG connections open but send nothing more."""
        self._state.stalled.set()

    def resume(self) -> None:
        """Undo ``stall``."""
        self._state.stalled.clear()

    def close(self) -> None:
        """Stop serving and end every MJPEG connection."""
        self._state.stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
