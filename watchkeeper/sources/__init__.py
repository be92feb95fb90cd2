"""Camera sources: open a stream with PyAV and hand its packets to the recorder and the analyzers."""

from watchkeeper.sources.backoff import Backoff
from watchkeeper.sources.errors import (
    CorruptStreamError,
    NoKeyframeError,
    SourceError,
    SourceUnavailableError,
    StreamStalledError,
)
from watchkeeper.sources.pyav import OpenedStream, PyAVSource, ReceivedPacket, SourceSpec
from watchkeeper.sources.recordable import mp4_unrecordable_reason

__all__ = [
    "Backoff",
    "CorruptStreamError",
    "NoKeyframeError",
    "OpenedStream",
    "PyAVSource",
    "ReceivedPacket",
    "SourceError",
    "SourceSpec",
    "SourceUnavailableError",
    "StreamStalledError",
    "mp4_unrecordable_reason",
]
