"""Repository protocols of the chain of custody: audit log, unmask grants, data keys and exports."""

from collections.abc import Collection, Sequence
from typing import Protocol

from watchkeeper.domain.custody import AuditEntry, AuditRecord, DataKeyRecord, ExportRecord, UnmaskGrant


class AuditRepository(Protocol):
    """The append-only, hash-chained audit log."""

    def append(self, entry: AuditEntry) -> AuditRecord:
        """Chain ``entry`` after the current head atomically; returns the stored record."""
        ...

    def head(self) -> AuditRecord | None:
        """The newest record, or ``None`` when the log is empty."""
        ...

    def page(self, after_seq: int, limit: int = 1000) -> Sequence[AuditRecord]:
        """Records with ``seq > after_seq`` in chain order."""
        ...

    def about(self, targets: Collection[str], limit: int = 10000) -> Sequence[AuditRecord]:
        """Records whose target is one of ``targets``, in chain order."""
        ...


class GrantRepository(Protocol):
    """Unmask grants."""

    def add(self, grant: UnmaskGrant) -> UnmaskGrant:
        """Store a new grant."""
        ...

    def get(self, grant_id: str) -> UnmaskGrant | None:
        """One grant, or ``None``."""
        ...

    def list(self, requester: str | None = None, limit: int = 200) -> Sequence[UnmaskGrant]:
        """Grants newest first, optionally of one requester."""
        ...

    def save(self, grant: UnmaskGrant, expected_state: str) -> UnmaskGrant:
        """Replace a grant whose stored state is still ``expected_state``.

        Raises:
            NotFoundError: If there is no such grant.
            ConflictError: If its state changed meanwhile.
        """
        ...


class DataKeyRepository(Protocol):
    """Wrapped data keys (one per camera per day)."""

    def add(self, record: DataKeyRecord) -> DataKeyRecord:
        """Store a new key; when that camera and day already has one, returns the stored one instead."""
        ...

    def keep(self, record: DataKeyRecord) -> None:
        """Store this exact key unless a key with its id exists (a key made while the store was away).

        Other keys of the same camera and day stay: segments name the key they were sealed with.
        """
        ...

    def get(self, key_id: str) -> DataKeyRecord | None:
        """One key by id, or ``None``."""
        ...

    def list(self) -> Sequence[DataKeyRecord]:
        """Every key (for rewrapping under a new master key)."""
        ...

    def rewrap(self, key_id: str, master_key_id: str, wrapped: bytes) -> None:
        """Replace a key's wrapping."""
        ...

    def count(self) -> int:
        """How many keys exist (non-zero means encrypted footage may exist)."""
        ...


class ExportRepository(Protocol):
    """Evidence exports."""

    def add(self, record: ExportRecord) -> ExportRecord:
        """Store a new export."""
        ...

    def get(self, export_id: str) -> ExportRecord | None:
        """One export, or ``None``."""
        ...

    def list(self, limit: int = 200) -> Sequence[ExportRecord]:
        """Exports newest first."""
        ...

    def save(self, record: ExportRecord) -> ExportRecord:
        """Replace an export (its release).

        Raises:
            NotFoundError: If there is no such export.
        """
        ...
