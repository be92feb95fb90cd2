"""Errors raised by the camera simulator."""

from watchkeeper.domain.errors import WatchkeeperError


class SimulatorError(WatchkeeperError):
    """The simulator could not generate footage or serve it."""

    code = "simulator_error"
