"""Repository protocols. Stages and the API depend on these, never on a concrete backend."""

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Protocol

from watchkeeper.domain import (
    Camera,
    CameraId,
    Event,
    EventQuery,
    Rendition,
    Segment,
    Site,
    SiteId,
    StorageTier,
)
from watchkeeper.domain.evidence import EvidenceLock
from watchkeeper.domain.incidents import (
    InboundKey,
    Incident,
    IncidentDetail,
    IncidentPage,
    IncidentQuery,
    IncidentRecord,
    SopStep,
)
from watchkeeper.domain.integrations import DeliveryPage, DeliveryState, JournalEntry, WebhookDelivery
from watchkeeper.domain.segment import TierCounts
from watchkeeper.storage.auth import AuthRepositories
from watchkeeper.storage.custody import (
    AuditRepository,
    DataKeyRepository,
    ExportRepository,
    GrantRepository,
)
from watchkeeper.storage.fenced import FencedResult, FencedWrite


class SiteRepository(Protocol):
    """Sites."""

    def upsert(self, site: Site) -> None:
        """Insert or update a site by id."""
        ...

    def list(self) -> Sequence[Site]:
        """All sites ordered by id."""
        ...


class CameraRepository(Protocol):
    """Cameras (without credentials: those stay in the config file)."""

    def upsert(self, camera: Camera) -> None:
        """Insert or update a camera by id."""
        ...

    def get(self, camera_id: CameraId) -> Camera | None:
        """One camera, or ``None``."""
        ...

    def list(self, site_id: SiteId | None = None) -> Sequence[Camera]:
        """Cameras ordered by id, optionally of one site."""
        ...


class SegmentRepository(Protocol):
    """The recording index."""

    def add(self, segment: Segment) -> Segment:
        """Index a complete segment; returns it with its ``id`` set."""
        ...

    def get(self, segment_id: int) -> Segment | None:
        """One segment, or ``None``."""
        ...

    def list(
        self,
        camera_id: CameraId,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 1000,
        *,
        rendition: Rendition | None = Rendition.ORIGINAL,
    ) -> Sequence[Segment]:
        """Segments of a camera overlapping ``[start, end)``, oldest first.

        Only segments of ``rendition``: the originals unless told otherwise, ``None`` for both.
        """
        ...


class EventRepository(Protocol):
    """Analysis events."""

    def upsert(self, event: Event) -> None:
        """Insert an event or update it (for example when it ends)."""
        ...

    def get(self, event_id: str) -> Event | None:
        """One event, or ``None``."""
        ...

    def list(
        self,
        camera_id: CameraId | None = None,
        since: datetime | None = None,
        limit: int = 100,
        *,
        camera_ids: Collection[CameraId] | None = None,
        query: EventQuery | None = None,
    ) -> Sequence[Event]:
        """Events newest first, of ``camera_id`` (or ``camera_ids``) if given, starting at/after ``since``.

        ``query`` narrows further: start before ``until``, kinds, object class, zone, rule, minimum score.
        """
        ...


class EvidenceLockRepository(Protocol):
    """Evidence locks: ranges of a camera's recording that retention never deletes until released."""

    def add(self, lock: EvidenceLock) -> EvidenceLock:
        """Store a new lock; returns it with its ``id`` set."""
        ...

    def get(self, lock_id: int) -> EvidenceLock | None:
        """One lock, or ``None``."""
        ...

    def release(self, lock_id: int, released_at: datetime) -> EvidenceLock:
        """Release a lock (the footage becomes subject to retention again); returns the released lock.

        Raises:
            NotFoundError: If there is no such lock.
            ConflictError: If the lock was already released.
        """
        ...

    def list(self, camera_id: CameraId | None = None, *, active_only: bool = True) -> Sequence[EvidenceLock]:
        """Locks ordered by start, optionally of one camera, by default only those not released."""
        ...


class RetentionRepository(Protocol):
    """The recording index as retention and start-up recovery see it."""

    def expired(
        self, camera_id: CameraId, before: datetime, *, with_events: bool, limit: int = 500, offset: int = 0
    ) -> Sequence[Segment]:
        """Segments of a camera ending at or before ``before``, oldest first, never evidence-locked ones.

        The first ``offset`` of them are skipped (rows a site worker keeps because their file is elsewhere).

        With ``with_events`` false only segments overlapping no event; with it true only those overlapping
        an event (an event still going on overlaps everything after its start).
        """
        ...

    def oldest_unlocked(
        self,
        limit: int = 500,
        *,
        tier: StorageTier | None = None,
        cameras: Collection[CameraId] | None = None,
        offset: int = 0,
    ) -> Sequence[Segment]:
        """The oldest segments (by start), never evidence-locked ones; only of ``tier`` and ``cameras``.

        The first ``offset`` of them are skipped.
        """
        ...

    def delete_unlocked(
        self, segment_ids: Sequence[int], remove_file: Callable[[Segment], bool]
    ) -> Sequence[Segment]:
        """Evict segments in one write transaction that also serialises with new evidence locks.

        Segments that are gone or became locked are skipped; for each other one ``remove_file`` is called
        (file first) and, when it returns true, the row is deleted. Returns the evicted segments.
        """
        ...

    def delete(self, segment_ids: Sequence[int]) -> int:
        """Remove index rows (whose files are known to be missing); returns how many were removed."""
        ...

    def total_bytes(
        self, camera_id: CameraId | None = None, *, cameras: Collection[CameraId] | None = None
    ) -> int:
        """Sum of the indexed segment sizes, of one camera, of ``cameras``, or of all."""
        ...

    def page(self, after_id: int, limit: int = 1000) -> Sequence[Segment]:
        """Segments with ``id > after_id`` in id order (to walk the whole index in bounded memory)."""
        ...

    def camera_page(self, camera_id: CameraId, after: Segment | None, limit: int = 1000) -> Sequence[Segment]:
        """One camera's segments after ``after`` (None: from the first), in (start, id) order."""
        ...

    def indexed_paths(self, camera_id: CameraId, start: datetime, end: datetime) -> frozenset[str]:
        """Paths of a camera's segments starting in ``[start, end)``."""
        ...

    def camera_ids(self) -> Sequence[CameraId]:
        """Every camera that has indexed segments, ordered by id."""
        ...


class TierRepository(Protocol):
    """The recording index as the storage tiering loop sees it (hot segments to move, warm ones moved)."""

    def hot_ending_before(
        self,
        before: datetime,
        limit: int = 100,
        offset: int = 0,
        *,
        cameras: Collection[CameraId] | None = None,
    ) -> Sequence[Segment]:
        """Hot segments that ended at or before ``before``, oldest first (skipping the first ``offset``).

        Only those of ``cameras`` when given.
        """
        ...

    def oldest_hot(
        self, limit: int = 100, offset: int = 0, *, cameras: Collection[CameraId] | None = None
    ) -> Sequence[Segment]:
        """The oldest hot segments of every camera, or of ``cameras`` (by start; skipping ``offset``)."""
        ...

    def warm_after(
        self, after_id: int, limit: int = 500, *, cameras: Collection[CameraId] | None = None
    ) -> Sequence[Segment]:
        """Warm segments with an id above ``after_id``, by id (a page of a walk over the warm tier).

        Only those of ``cameras`` when given.
        """
        ...

    def mark_warm(self, segment_id: int, object_key: str, sha256: str) -> Segment | None:
        """Record in one write that a hot segment now lives in the warm bucket under ``object_key``.

        Returns the updated segment, or ``None`` when it is gone or no longer hot (nothing changed).
        """
        ...

    def counts(self) -> TierCounts:
        """How many segments and bytes each tier holds."""
        ...


class IncidentRepository(Protocol):
    """Incidents with their transitions, SOP steps, notes, attachments and escalations."""

    def add(self, incident: Incident, sop: Sequence[SopStep], key: InboundKey | None = None) -> Incident:
        """Store a new incident with its checklist (and the idempotency key that created it) atomically.

        Raises:
            DuplicateError: If the id or the idempotency key (source, key) is taken.
        """
        ...

    def get(self, incident_id: str) -> Incident | None:
        """The head of one incident, or ``None``."""
        ...

    def detail(self, incident_id: str) -> IncidentDetail | None:
        """One incident with every child record (each kind oldest first), or ``None``."""
        ...

    def list(self, query: IncidentQuery) -> IncidentPage:
        """Incidents matching ``query``, newest first."""
        ...

    def update(self, incident: Incident, expected_revision: int, *records: IncidentRecord) -> Incident:
        """Replace the head (whose ``revision`` must be ``expected_revision + 1``) and add ``records``.

        A ``SopStep`` record replaces the step of the same index. All in one transaction.

        Raises:
            NotFoundError: If there is no such incident.
            ConflictError: If the stored revision is not ``expected_revision`` (someone else changed it).
        """
        ...

    def add_alarms(
        self, incident_id: str, count: int, last_alarm_at: datetime, updated_at: datetime
    ) -> Incident:
        """Count ``count`` more merged alarms atomically (revision bumped); returns the new head.

        Raises:
            NotFoundError: If there is no such incident.
        """
        ...

    def find_open(self, correlation_key: str) -> Incident | None:
        """The newest open incident with that correlation key, or ``None``."""
        ...

    def due_escalations(self, now: datetime, limit: int = 100) -> Sequence[Incident]:
        """New (unacknowledged) incidents whose next escalation is due by ``now``, oldest due first."""
        ...

    def inbound_key(self, source: str, key: str) -> InboundKey | None:
        """The idempotency key of an inbound source, or ``None``."""
        ...


class WebhookDeliveryRepository(Protocol):
    """Outbound webhook deliveries: the dispatcher's outbox and the dead-letter list."""

    def add(self, delivery: WebhookDelivery) -> WebhookDelivery:
        """Store a new delivery; returns it with its id."""
        ...

    def get(self, delivery_id: int) -> WebhookDelivery | None:
        """One delivery, or ``None``."""
        ...

    def list(
        self, state: DeliveryState | None = None, webhook: str | None = None, limit: int = 50, offset: int = 0
    ) -> DeliveryPage:
        """Deliveries newest first, optionally of one state and one webhook."""
        ...

    def claim(self, now: datetime, lease_until: datetime, limit: int = 50) -> Sequence[WebhookDelivery]:
        """Pending deliveries due at ``now`` (oldest first), each leased until ``lease_until``."""
        ...

    def save(self, delivery: WebhookDelivery) -> WebhookDelivery:
        """Write the outcome of an attempt. Raises ``NotFoundError`` when the delivery is gone."""
        ...

    def retry(self, delivery_id: int, now: datetime) -> WebhookDelivery:
        """Back to pending with attempts reset, due at ``now``. Raises ``NotFoundError`` for an unknown id."""
        ...

    def prune(self, state: DeliveryState, before: datetime) -> int:
        """Delete deliveries in ``state`` last changed before ``before``; returns how many."""
        ...


class IncidentJournal(Protocol):
    """Announced incident changes in order; ``seq`` is the cursor a reconnecting console resumes from."""

    def append(self, entry: JournalEntry) -> JournalEntry:
        """Store ``entry`` unless that incident revision is already there; returns the stored entry."""
        ...

    def after(self, seq: int, limit: int = 500) -> Sequence[JournalEntry]:
        """Entries after cursor ``seq``, in order, at most ``limit``."""
        ...

    def last_seq(self) -> int:
        """The newest cursor (0 when empty)."""
        ...

    def prune(self, before: datetime) -> int:
        """Delete entries received before ``before``; returns how many."""
        ...


class FenceRepository(Protocol):
    """Fencing tokens of camera index writes: a write with a token older than the newest seen is refused.

    Token 0 is the single-box token: always admitted, never recorded.
    """

    def admit(self, camera_id: CameraId, token: int) -> bool:
        """Record ``token`` for ``camera_id`` unless a newer one was seen; False when stale (atomic)."""
        ...

    def newest(self, camera_id: CameraId) -> int | None:
        """The newest token seen for ``camera_id``, or None."""
        ...

    def add_segment(self, segment: Segment, token: int) -> Segment | None:
        """Index ``segment`` in the transaction that admits ``token``; None (nothing written) when stale."""
        ...

    def upsert_event(self, event: Event, token: int) -> bool:
        """Upsert ``event`` in the transaction that admits ``token``; False (nothing written) when stale."""
        ...

    def write_batch(self, writes: Sequence[FencedWrite]) -> list[FencedResult]:
        """Run ``writes`` in order in one transaction, each admitted by its own token; one result each."""
        ...


class Store(Protocol):
    """All repositories of one database."""

    @property
    def sites(self) -> SiteRepository:
        """Site repository."""
        ...

    @property
    def cameras(self) -> CameraRepository:
        """Camera repository."""
        ...

    @property
    def segments(self) -> SegmentRepository:
        """Segment repository."""
        ...

    @property
    def events(self) -> EventRepository:
        """Event repository."""
        ...

    @property
    def evidence_locks(self) -> EvidenceLockRepository:
        """Evidence-lock repository."""
        ...

    @property
    def retention(self) -> RetentionRepository:
        """Retention and recovery queries over the recording index."""
        ...

    @property
    def tiers(self) -> TierRepository:
        """Storage tier queries over the recording index (hot on local disk, warm in a bucket)."""
        ...

    @property
    def fences(self) -> FenceRepository:
        """Fencing tokens and fenced index writes (camera leases across workers)."""
        ...

    @property
    def auth(self) -> AuthRepositories:
        """Users, sessions, API tokens and login counters."""
        ...

    @property
    def incidents(self) -> IncidentRepository:
        """Incidents and inbound-alarm idempotency keys."""
        ...

    @property
    def webhook_deliveries(self) -> WebhookDeliveryRepository:
        """Outbound webhook deliveries and dead letters."""
        ...

    @property
    def incident_journal(self) -> IncidentJournal:
        """The incident change journal consoles replay from."""
        ...

    @property
    def audit(self) -> AuditRepository:
        """The hash-chained audit log."""
        ...

    @property
    def grants(self) -> GrantRepository:
        """Unmask grants."""
        ...

    @property
    def data_keys(self) -> DataKeyRepository:
        """Wrapped data keys of encrypted originals."""
        ...

    @property
    def exports(self) -> ExportRepository:
        """Evidence exports."""
        ...

    def close(self) -> None:
        """Release connections and stop the writer."""
        ...
