"""Fixtures of the auth tests: a store on each backend, an auth service with a controllable clock."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.auth.support import fast_passwords
from tests.storage.pg import fresh_pg_database
from watchkeeper.auth.service import AuthService
from watchkeeper.config.auth import AuthConfig
from watchkeeper.domain import Camera, CameraId, Site, SiteId
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One store per backend for the module (tests use unique usernames)."""
    if request.param == "sqlite":
        opened = open_store(f"sqlite:///{Path(tmp_path_factory.mktemp('auth')) / 'wk.db'}")
        yield opened
        opened.close()
        return
    with fresh_pg_database() as url:
        opened = open_store(url)
        yield opened
        opened.close()


@pytest.fixture(scope="module")
def inventory(store: Store) -> Store:
    """Sites ``a`` and ``b`` with cameras ``a1``, ``a2`` and ``b1``."""
    for site in ("a", "b"):
        store.sites.upsert(Site(SiteId(site), f"Site {site}"))
    for camera, site in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        store.cameras.upsert(Camera(CameraId(camera), f"Camera {camera}", SiteId(site)))
    return store


_names = itertools.count()


@pytest.fixture
def name() -> str:
    """A username no other test uses."""
    return f"user{next(_names)}"


@pytest.fixture
def clock() -> Clock:
    """A clock at ``T0``."""
    return Clock()


@pytest.fixture
def auth(store: Store, clock: Clock) -> AuthService:
    """The auth service over the module's store, with fast hashing and the hand clock."""
    return AuthService(store.auth, AuthConfig(), fast_passwords(), clock)
