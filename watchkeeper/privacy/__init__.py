"""Privacy: the redaction hook every stored or shown frame of people passes through.

``Redactor`` is the protocol (``redactor.apply(frame, dets) -> frame``); ``PersonBlur`` is the default
implementation (blurs every person box). The privacy work replaces it behind the same protocol.
"""

from watchkeeper.privacy.blur import PersonBlur, box_blur
from watchkeeper.privacy.protocol import Redactor

__all__ = ["PersonBlur", "Redactor", "box_blur"]
