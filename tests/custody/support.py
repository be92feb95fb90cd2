"""Chain-of-custody services over a store, for tests of other areas (the authz matrix)."""

from __future__ import annotations

from pathlib import Path

from watchkeeper.audit.log import AuditLog
from watchkeeper.privacy.exports import ExportDeps, ExportService
from watchkeeper.privacy.grants import GrantService
from watchkeeper.privacy.keys import FileKeyProvider, SegmentKeys
from watchkeeper.privacy.services import CustodyServices
from watchkeeper.privacy.signing import ExportSigner
from watchkeeper.storage.protocols import Store


def custody_services(store: Store, folder: Path) -> CustodyServices:
    """Audit, grants, keys (a fresh key file under ``folder``) and exports of ``folder`` as the media root."""
    keys = SegmentKeys(
        FileKeyProvider.open(folder / "keys" / "master.key", encrypted_data_exists=False), store.data_keys
    )
    audit = AuditLog(store.audit)
    grants = GrantService(store.grants, audit)
    signer = ExportSigner.open(folder / "keys" / "sign.key")
    exports = ExportService(ExportDeps(store, audit, grants, signer, folder, folder / "exports", keys))
    return CustodyServices(audit, grants, keys, exports, 7, 14)
