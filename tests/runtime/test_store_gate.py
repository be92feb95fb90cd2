"""The store gate: jobs that need the store wait for it, run once and in order, and failures stay one line."""

from __future__ import annotations

import logging
import threading

import pytest

from tests.conftest import wait_for
from watchkeeper.domain import StorageUnavailableError, WatchkeeperError
from watchkeeper.runtime.store_gate import GateRetry, StoreGate

FAST = GateRetry(initial_s=0.05, max_s=0.1)


class Store:
    """Answers once ``up`` is set; counts the tries."""

    def __init__(self) -> None:
        self.up = threading.Event()
        self.tries = 0

    def open(self) -> None:
        self.tries += 1
        if not self.up.is_set():
            raise StorageUnavailableError("cannot reach database at postgresql://db/wk: connection refused")


def test_jobs_wait_for_the_store_and_run_once_in_order(caplog: pytest.LogCaptureFixture) -> None:
    store = Store()
    gate = StoreGate(store.open, "postgresql://db/wk", FAST)
    ran: list[str] = []
    with caplog.at_level(logging.DEBUG, logger="watchkeeper.runtime.store_gate"):
        assert not gate.try_now()
        gate.after_ready("inventory sync", lambda: ran.append("inventory"))

        def broken() -> None:
            raise WatchkeeperError("the audit table is read-only")

        gate.after_ready("configuration audit", broken)
        gate.after_ready("retention and tiering", lambda: ran.append("retention"))
        gate.start()
        wait_for(lambda: store.tries >= 3, 10, "a few tries while the store is away")
        assert ran == []
        assert not gate.ready.is_set()
        store.up.set()
        wait_for(lambda: len(ran) == 2, 10, "the jobs to run once the store answers")
        gate.after_ready("later", lambda: ran.append("later"))  # ready now: runs at once, here
        gate.stop()
    assert ran == ["inventory", "retention", "later"]
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.getMessage().split(": ")[0] for record in errors] == [
        "store postgresql://db/wk unreachable at start-up",
        "configuration audit failed",
    ]
    assert all(record.exc_info is None for record in errors)  # one line each, no stack trace
    assert "the audit table is read-only" in errors[1].getMessage()
    reachable = [
        record.getMessage() for record in caplog.records if "reachable: running" in record.getMessage()
    ]
    assert reachable == [
        "store postgresql://db/wk reachable: running what waited for it "
        "(inventory sync, configuration audit, retention and tiering)"
    ]


def test_a_store_that_answers_at_once_runs_jobs_in_the_callers_thread() -> None:
    store = Store()
    store.up.set()
    gate = StoreGate(store.open, "postgresql://db/wk", FAST)
    assert gate.try_now()
    threads: list[str] = []
    gate.after_ready("inventory sync", lambda: threads.append(threading.current_thread().name))
    gate.start()  # nothing to do
    gate.stop()
    assert threads == [threading.current_thread().name]
    assert store.tries == 1
