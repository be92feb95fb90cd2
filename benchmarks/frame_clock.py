"""When did the simulator send the frame an event was raised on? A packet consumer that keeps the answer.

The RTSP simulator sends access unit ``k`` of a session at ``start + k / fps`` on its own monotonic clock,
and stamps it with RTP time ``k / fps`` (plus a random base that FFmpeg removes: the first packet's pts is 0).
A worker stamps each packet with its wall-clock arrival (``ReceivedPacket.received_at``), which is also the
``start`` of an event raised on that frame. So for every detect-stream packet :class:`FrameClock` keeps
``received_at -> pts``; the session's send origin is ``min(received_at - pts)`` over its packets (the packet
that waited least, on loopback well under a millisecond), and a frame's send time is ``origin + pts``.

This is an estimate from the receiving side: if the simulator itself falls behind its schedule, its delay is
counted as pipeline latency (an upper bound); the simulator runs in its own process and is cheap.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class SentFrame:
    """The frame an event started on: its index in the session, when it was sent and when received."""

    index: int
    sent: float
    received: float


class _Session:
    def __init__(self) -> None:
        self.origin = float("inf")
        self.first_pts: float | None = None
        self.by_arrival: dict[float, float] = {}


class FrameClock:
    """A ``PacketConsumer`` for a detect input: remembers each video packet's arrival and pts."""

    def __init__(self, fps: int) -> None:
        self._fps = fps
        self._lock = threading.Lock()
        self._sessions: list[_Session] = []
        self._video: Any = None

    def begin(self, stream: Any) -> None:
        with self._lock:
            self._sessions.append(_Session())
        self._video = stream.video

    def write(self, item: Any) -> None:
        packet = item.packet
        if packet.stream is not self._video or packet.pts is None:
            return
        pts = float(packet.pts * packet.time_base)
        arrival = item.received_at.timestamp()
        with self._lock:
            session = self._sessions[-1]
            if session.first_pts is None:
                session.first_pts = pts
            session.by_arrival[arrival] = pts
            session.origin = min(session.origin, arrival - pts)

    def finish(self) -> None:
        self._video = None

    def frame(self, received_at: datetime) -> SentFrame | None:
        """The frame whose packet arrived at ``received_at`` (an event's ``start``), or ``None``."""
        arrival = received_at.timestamp()
        with self._lock:
            for session in reversed(self._sessions):
                pts = session.by_arrival.get(arrival)
                if pts is not None:
                    index = round((pts - (session.first_pts or 0.0)) * self._fps)
                    return SentFrame(index, session.origin + pts, arrival)
        return None

    def lags(self) -> list[float]:
        """Every video packet's arrival minus its send time (seconds): transport + demux delay."""
        with self._lock:
            return [
                arrival - (session.origin + pts)
                for session in self._sessions
                for arrival, pts in session.by_arrival.items()
            ]
