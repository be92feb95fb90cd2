"""WebRTC live view of the protected rendition: a video track of a camera's redacted frames.

``RedactedVideoTrack`` hands aiortc the frames of one ``LiveSubscription`` (redacted frames only, never
originals). It keeps only the newest frame, so a peer slower than the camera (a slow network or encoder)
drops frames and the camera never waits. aiortc encodes each frame for the negotiated codec in a worker
thread; ``prefer_h264`` orders a transceiver's codecs so that H.264 is chosen when the browser offers it
and VP8 otherwise.
"""

from __future__ import annotations

import fractions
import time

import av
from aiortc import MediaStreamTrack, RTCRtpSender, RTCRtpTransceiver
from aiortc.mediastreams import MediaStreamError

from watchkeeper.privacy.live_feed import LiveSubscription

VIDEO_CLOCK_HZ = 90_000
"""RTP clock rate of video: frame timestamps count in 1/90000 s."""
WAIT_S = 1.0
"""How long ``recv`` waits for a frame before it looks again whether the track was stopped."""
CODEC_ORDER = ("video/H264", "video/VP8")
"""Codecs offered to the browser, most wanted first (H.264 is decoded in hardware on most clients)."""


class RedactedVideoTrack(MediaStreamTrack):
    """A camera's live redacted frames as a WebRTC video track (one per peer)."""

    kind = "video"

    def __init__(self, subscription: LiveSubscription) -> None:
        """Serve the frames of ``subscription`` (closed when the track stops)."""
        super().__init__()
        self.subscription = subscription
        self._start: float | None = None
        self._time_base = fractions.Fraction(1, VIDEO_CLOCK_HZ)

    async def recv(self) -> av.VideoFrame:
        """The newest redacted frame, timestamped on the 90 kHz clock from when the stream began."""
        while True:
            if self.readyState != "live" or self.subscription.closed:
                raise MediaStreamError
            frame = await self.subscription.next(WAIT_S)
            if frame is not None:
                break
        now = time.monotonic()
        if self._start is None:
            self._start = now
        video = av.VideoFrame.from_ndarray(frame.rgb, format="rgb24")
        video.pts = int((now - self._start) * VIDEO_CLOCK_HZ)
        video.time_base = self._time_base
        return video

    def stop(self) -> None:
        """End the track and leave the camera's feed."""
        super().stop()
        self.subscription.close()


def prefer_h264(transceiver: RTCRtpTransceiver) -> None:
    """Offer only H.264 and VP8 (with their retransmission codecs), H.264 first."""
    capabilities = RTCRtpSender.getCapabilities("video").codecs
    ordered = [c for name in CODEC_ORDER for c in capabilities if c.mimeType == name]
    ordered += [c for c in capabilities if c.mimeType == "video/rtx"]
    transceiver.setCodecPreferences(ordered)
