"""Open a stream once and say what it carries (``config check --probe``, the console's "test connection")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from watchkeeper.sources.errors import SourceError
from watchkeeper.sources.pyav import PyAVSource, SourceSpec

PROBE_TIMEOUT_S = 5.0
"""How long a probe waits for the stream to open and deliver."""


@dataclass(frozen=True, slots=True)
class StreamProbe:
    """What one probe found (never carries credentials: errors name the redacted URL).

    Attributes:
        ok: The stream opened.
        detail: ``codec WxH[ + audio codec]``, or the error (``<redacted url>: reason``).
        codec: The video codec's name (None when it failed).
        width: Picture width (None when it failed).
        height: Picture height (None when it failed).
    """

    ok: bool
    detail: str
    codec: str | None = None
    width: int | None = None
    height: int | None = None


def probe_url(url: str, redacted_url: str, transport: Literal["tcp", "udp"] = "tcp") -> StreamProbe:
    """Open ``url`` once (up to :data:`PROBE_TIMEOUT_S`) and report its video (and audio) codec and size."""
    spec = SourceSpec(
        url=url,
        redacted_url=redacted_url,
        transport=transport,
        open_timeout_s=PROBE_TIMEOUT_S,
        stall_timeout_s=PROBE_TIMEOUT_S,
    )
    try:
        with PyAVSource(spec).open() as stream:
            video = stream.video.codec_context
            detail = f"{video.name} {video.width}x{video.height}"
            if stream.audio is not None:
                detail += f" + audio {stream.audio.codec_context.name}"
            return StreamProbe(True, detail, codec=video.name, width=video.width, height=video.height)
    except SourceError as err:
        return StreamProbe(False, str(err))
