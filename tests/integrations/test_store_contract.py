"""Webhook deliveries and the incident journal: one behaviour suite on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from tests.integrations.conftest import T0
from watchkeeper.domain import NotFoundError
from watchkeeper.domain.integrations import DeliveryState, JournalEntry, WebhookDelivery
from watchkeeper.storage.protocols import Store


def delivery(webhook: str = "ops", at_s: float = 0, subject: str = "inc-1") -> WebhookDelivery:
    at = T0 + timedelta(seconds=at_s)
    return WebhookDelivery(
        webhook=webhook,
        event="incident.created",
        subject_id=subject,
        payload='{"event":"incident.created"}',
        created_at=at,
        next_attempt_at=at,
    )


def test_added_deliveries_are_listed_newest_first_and_filtered(any_store: Store) -> None:
    repo = any_store.webhook_deliveries
    first = repo.add(delivery("ops", 0))
    second = repo.add(delivery("fire-panel", 1))
    assert first.id is not None
    assert second.id is not None
    assert second.id > first.id
    assert repo.get(first.id) == first
    assert repo.get(987654) is None
    page = repo.list()
    assert [item.id for item in page.items] == [second.id, first.id]
    assert page.total == 2
    assert [item.id for item in repo.list(webhook="ops").items] == [first.id]
    assert repo.list(DeliveryState.DEAD).total == 0
    assert repo.list(limit=1, offset=1).items[0].id == first.id


def test_claim_leases_due_deliveries_once(any_store: Store) -> None:
    repo = any_store.webhook_deliveries
    due = repo.add(delivery(at_s=0))
    repo.add(delivery(at_s=60))  # not due yet
    lease = T0 + timedelta(minutes=5)
    claimed = repo.claim(T0 + timedelta(seconds=1), lease)
    assert [item.id for item in claimed] == [due.id]
    assert repo.claim(T0 + timedelta(seconds=2), lease) == []  # leased: nobody else sends it
    assert len(repo.claim(lease, lease + timedelta(minutes=5))) == 2  # the lease ran out; the other is due


def test_concurrent_claims_never_share_a_delivery(any_store: Store) -> None:
    repo = any_store.webhook_deliveries
    for index in range(40):
        repo.add(delivery(at_s=index / 100))
    got: list[int] = []
    lock = threading.Lock()

    def claim() -> None:
        items = repo.claim(T0 + timedelta(seconds=10), T0 + timedelta(minutes=5), limit=15)
        with lock:
            got.extend(item.id or 0 for item in items)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == len(set(got)) == 40


def test_save_retry_and_prune(any_store: Store) -> None:
    repo = any_store.webhook_deliveries
    stored = repo.add(delivery())
    dead = repo.save(
        WebhookDelivery(
            **{
                **{slot: getattr(stored, slot) for slot in WebhookDelivery.__slots__},
                "state": DeliveryState.DEAD,
                "attempts": 3,
                "last_error": "HTTP 500",
                "last_status": 500,
                "updated_at": T0 + timedelta(seconds=5),
            }
        )
    )
    assert dead.state is DeliveryState.DEAD
    assert dead.attempts == 3
    assert dead.last_status == 500
    assert [item.id for item in repo.list(DeliveryState.DEAD).items] == [stored.id]
    retried = repo.retry(stored.id or 0, T0 + timedelta(seconds=9))
    assert retried.state is DeliveryState.PENDING
    assert retried.attempts == 0
    assert retried.next_attempt_at == T0 + timedelta(seconds=9)
    with pytest.raises(NotFoundError):
        repo.retry(987654, T0)
    with pytest.raises(NotFoundError):
        repo.save(delivery())  # never added: no id
    assert repo.prune(DeliveryState.PENDING, T0 + timedelta(seconds=10)) == 1
    assert repo.list().total == 0


def test_journal_keeps_one_entry_per_revision_in_order(any_store: Store) -> None:
    journal = any_store.incident_journal
    assert journal.last_seq() == 0
    first = journal.append(JournalEntry("inc-1", 1, "{}", T0))
    second = journal.append(JournalEntry("inc-2", 1, "{}", T0))
    again = journal.append(JournalEntry("inc-1", 1, '{"other": "server"}', T0 + timedelta(seconds=1)))
    assert first.seq is not None
    assert second.seq is not None
    assert second.seq > first.seq
    assert again == first  # a second server journalling the same revision gets the first entry
    third = journal.append(JournalEntry("inc-1", 2, "{}", T0 + timedelta(hours=1)))
    assert [entry.seq for entry in journal.after(0)] == [first.seq, second.seq, third.seq]
    assert [entry.seq for entry in journal.after(first.seq)] == [second.seq, third.seq]
    assert [entry.seq for entry in journal.after(0, limit=1)] == [first.seq]
    assert journal.last_seq() == third.seq
    assert journal.prune(T0 + timedelta(minutes=1)) == 2
    assert [entry.seq for entry in journal.after(0)] == [third.seq]
    assert journal.last_seq() == third.seq
