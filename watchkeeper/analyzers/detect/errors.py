"""Errors of the detector stage."""

from watchkeeper.domain.errors import WatchkeeperError


class DetectorError(WatchkeeperError):
    """A detector model cannot be loaded or run: missing, not ONNX, or outputs unlike its configured format.

    The message always names the model file and says what is wrong.
    """

    code = "detector_error"
