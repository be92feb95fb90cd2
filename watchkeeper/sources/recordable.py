"""Whether a camera's video can be recorded into fragmented MP4 without re-encoding.

FFmpeg's mp4 muxer takes H.264, HEVC, MJPEG, MPEG-4 part 2, MPEG-2, VP9, AV1 and a few more; it refuses
others (VP8, H.263, raw video). The recorder never re-encodes, so an input it cannot mux is streamed for
detection only and reported as not recordable instead of failing every segment.
"""

from __future__ import annotations

import io

import av
import av.error
from av.video.stream import VideoStream


def mp4_unrecordable_reason(video: VideoStream) -> str | None:
    """Return why ``video`` cannot be muxed into MP4 as it is, or None when it can.

    The check is a dry run: the stream is added to an in-memory MP4 and its header is written.
    """
    codec = video.codec_context.name
    buffer = io.BytesIO()
    try:
        with av.open(buffer, mode="w", format="mp4") as output:
            output.add_stream_from_template(video)
            output.start_encoding()
    except (ValueError, av.error.FFmpegError) as err:
        return f"video codec {codec} cannot be recorded into MP4 without re-encoding ({err})"
    return None
