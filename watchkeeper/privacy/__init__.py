"""Privacy: the redaction hook every stored or shown frame of people passes through.

``Redactor`` is the protocol (``redactor.apply(frame, dets) -> frame``). ``PersonBlur`` blurs every person
box; ``redaction.PrivacyRedactor`` (people, predicted tracks, moving regions, faces, static masks) drives the
protected rendition. The package also holds encryption at rest (``keys``, ``crypto``), unmask grants
(``grants``) and signed evidence exports (``exports``).
"""

from watchkeeper.privacy.blur import PersonBlur, box_blur
from watchkeeper.privacy.protocol import Redactor

__all__ = ["PersonBlur", "Redactor", "box_blur"]
