"""Offline verification of the audit chain (and of excerpts of it carried in evidence bundles)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from watchkeeper.audit.anchor import Anchor
from watchkeeper.domain.custody import GENESIS_HASH, AuditRecord
from watchkeeper.storage.custody import AuditRepository


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of a verification: ``problem`` names the first broken link (``None`` when intact)."""

    checked: int
    head_seq: int
    problem: str | None = None
    broken_seq: int | None = None

    @property
    def ok(self) -> bool:
        """True when nothing is broken."""
        return self.problem is None


def all_records(repository: AuditRepository, page: int = 1000) -> Iterator[AuditRecord]:
    """Every record in chain order, in pages."""
    after = 0
    while True:
        batch = repository.page(after, page)
        yield from batch
        if len(batch) < page:
            return
        after = batch[-1].seq


def _link_problem(record: AuditRecord, prev_seq: int, prev_hash: str) -> str | None:
    if record.seq != prev_seq + 1:
        missing = f"#{prev_seq + 1}" if record.seq == prev_seq + 2 else f"#{prev_seq + 1}..#{record.seq - 1}"
        return f"record {missing} is missing (deleted): the chain jumps from #{prev_seq} to #{record.seq}"
    if record.compute_hash() != record.hash:
        return f"record #{record.seq} was altered: its content does not match its hash"
    if record.prev_hash != prev_hash:
        return f"record #{record.seq} does not link to record #{prev_seq} (a record was replaced)"
    return None


def verify_chain(records: Iterable[AuditRecord], anchors: Sequence[Anchor] = ()) -> ChainReport:
    """Check every link and every anchor; report the first problem found."""
    prev_seq, prev_hash, checked = 0, GENESIS_HASH, 0
    seen: dict[int, str] = {}
    anchored = {anchor.seq: anchor for anchor in anchors}
    for record in records:
        problem = _link_problem(record, prev_seq, prev_hash)
        if problem is not None:
            return ChainReport(checked, prev_seq, problem, record.seq)
        checked += 1
        prev_seq, prev_hash = record.seq, record.hash
        if record.seq in anchored:
            seen[record.seq] = record.hash
    for anchor in anchors:
        if anchor.seq > prev_seq:
            return ChainReport(
                checked,
                prev_seq,
                f"the log was truncated: it ends at #{prev_seq} but an anchor of {anchor.at.isoformat()} "
                f"names record #{anchor.seq}",
                prev_seq + 1,
            )
        if seen.get(anchor.seq) != anchor.hash:
            return ChainReport(
                checked, prev_seq, f"record #{anchor.seq} differs from its anchor (rewritten)", anchor.seq
            )
    return ChainReport(checked, prev_seq)


def verify_excerpt(records: Sequence[AuditRecord]) -> str | None:
    """Check the records of an excerpt: each matches its hash; consecutive ones link. None when intact."""
    previous: AuditRecord | None = None
    for record in records:
        if record.compute_hash() != record.hash:
            return f"audit record #{record.seq} was altered"
        if previous is not None and record.seq == previous.seq + 1 and record.prev_hash != previous.hash:
            return f"audit record #{record.seq} does not link to #{previous.seq}"
        if previous is not None and record.seq <= previous.seq:
            return f"audit records are out of order at #{record.seq}"
        previous = record
    return None
