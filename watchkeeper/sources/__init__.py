"""Camera sources: open a stream with PyAV and hand its packets to the recorder and the analyzers."""

from watchkeeper.sources.backoff import Backoff
from watchkeeper.sources.errors import SourceError, SourceUnavailableError, StreamStalledError
from watchkeeper.sources.pyav import OpenedStream, PyAVSource, ReceivedPacket, SourceSpec

__all__ = [
    "Backoff",
    "OpenedStream",
    "PyAVSource",
    "ReceivedPacket",
    "SourceError",
    "SourceSpec",
    "SourceUnavailableError",
    "StreamStalledError",
]
