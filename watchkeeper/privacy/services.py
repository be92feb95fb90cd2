"""The chain-of-custody services one process runs, built by ``runtime.custody`` and handed to the API."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from watchkeeper.audit.log import AuditLog
from watchkeeper.privacy.crypto import CHUNK_SIZE, DecryptingReader, SegmentCryptoError
from watchkeeper.privacy.exports import ExportService
from watchkeeper.privacy.grants import GrantService
from watchkeeper.privacy.keys import SegmentKeys
from watchkeeper.privacy.live import LiveOriginals


@dataclass(frozen=True, slots=True)
class CustodyServices:
    """Audit log, unmask grants, data keys of encrypted originals (``None``: not encrypted) and exports."""

    audit: AuditLog
    grants: GrantService
    keys: SegmentKeys | None = None
    exports: ExportService | None = None
    retain_days: int | None = None
    """Days footage is kept (shown in the console)."""
    event_retain_days: int | None = None
    """Days footage overlapping an event is kept."""
    live: LiveOriginals | None = None
    """Unredacted live frames, offered by the privacy taps while wanted (break glass, live grants)."""

    def open_original(self, path: Path | BinaryIO) -> DecryptingReader:
        """A decrypting reader over an encrypted original.

        Raises:
            SegmentCryptoError: Without data keys, or the file is not ours.
            TamperedSegmentError: If the header or size shows tampering.
        """
        if self.keys is None:
            raise SegmentCryptoError("this installation has no data keys: originals are not encrypted")
        return DecryptingReader(path, self.keys.for_reading)

    def buffered(self, path: Path | BinaryIO) -> io.BufferedReader:
        """:meth:`open_original` with a chunk-sized buffer (for PyAV)."""
        return io.BufferedReader(self.open_original(path), CHUNK_SIZE)
