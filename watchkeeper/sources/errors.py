"""Errors raised by camera sources (PyAV/FFmpeg errors are translated into these)."""

from watchkeeper.domain import WatchkeeperError


class SourceError(WatchkeeperError):
    """A camera stream failed; the message is safe to show (no credentials)."""

    code = "source_error"


class SourceUnavailableError(SourceError):
    """The stream could not be opened (refused, not found, unauthorised, timed out)."""

    code = "source_unavailable"


class StreamStalledError(SourceError):
    """The stream stayed open but sent no packet within the stall timeout."""

    code = "source_stalled"


class NoKeyframeError(StreamStalledError):
    """Video packets arrive but no keyframe within the keyframe timeout: nothing can be recorded."""

    code = "source_no_keyframe"


class CorruptStreamError(SourceUnavailableError):
    """The stream delivers packets but the video in them cannot be decoded (garbage, wrong codec data)."""

    code = "source_corrupt"
