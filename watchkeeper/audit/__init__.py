"""The tamper-evident audit log: who did what, when, from where and why, hash-chained and anchored.

``AuditLog`` appends records; ``AnchorFile`` writes the chain head to an append-only file outside the
database so a truncated log is detectable; ``verify_chain`` checks a log offline.
"""

from watchkeeper.audit.anchor import Anchor, AnchorFile
from watchkeeper.audit.log import AuditAction, AuditLog
from watchkeeper.audit.verify import ChainReport, verify_chain, verify_excerpt

__all__ = [
    "Anchor",
    "AnchorFile",
    "AuditAction",
    "AuditLog",
    "ChainReport",
    "verify_chain",
    "verify_excerpt",
]
