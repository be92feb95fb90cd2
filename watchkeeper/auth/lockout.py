"""Failed-login backoff per account and per source address (exponential, capped: never a permanent lock).

Two counters are kept:

* ``addr:IP`` for every source address: after ``free_attempts`` failures each further failure blocks the
  address for ``base_delay_s * 2**n`` seconds, at most ``max_delay_s``.
* ``user:NAME`` for every account, with the same backoff, against password guessing spread over many
  addresses. It is **not** applied to an address the user has logged in from during the last
  ``KNOWN_SOURCE_DAYS`` days, so an attacker elsewhere can slow an account down but never lock its owner
  (the admin) out of their usual workstation; and every block ends after at most ``max_delay_s``.

A success clears the account counter. ``watchkeeper users reset-password`` clears it too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from watchkeeper.auth.errors import TooManyAttemptsError
from watchkeeper.config.auth import LockoutConfig
from watchkeeper.storage.auth import LoginThrottleRepository

KNOWN_SOURCE_DAYS = 30


def account_key(username: str) -> str:
    """Throttle key of an account (case-folded so ``Admin`` and ``admin`` share it)."""
    return f"user:{username.casefold()[:150]}"


def address_key(source: str) -> str:
    """Throttle key of a source address."""
    return f"addr:{source[:150]}"


@dataclass(frozen=True, slots=True)
class Backoff:
    """The delay schedule of a ``LockoutConfig``."""

    config: LockoutConfig

    def delay(self, failures: int) -> timedelta | None:
        """How long to block after the ``failures``-th failure in a row (``None``: not yet)."""
        extra = failures - self.config.free_attempts
        if extra <= 0:
            return None
        seconds = min(self.config.base_delay_s * 2.0 ** min(extra - 1, 40), self.config.max_delay_s)
        return timedelta(seconds=seconds)


class LoginThrottler:
    """Checks and records failed logins."""

    def __init__(self, throttles: LoginThrottleRepository, config: LockoutConfig) -> None:
        """Count in ``throttles`` with the schedule of ``config``."""
        self._throttles = throttles
        self._backoff = Backoff(config)
        self._reset_after = timedelta(seconds=config.reset_after_s)

    def check(self, keys: list[str], now: datetime) -> None:
        """Refuse the attempt while any of ``keys`` is blocked.

        Raises:
            TooManyAttemptsError: With the seconds left (at least 1).
        """
        waits = []
        for key in keys:
            throttle = self._throttles.get(key)
            if throttle is not None and throttle.blocked_until is not None and throttle.blocked_until > now:
                waits.append((throttle.blocked_until - now).total_seconds())
        if waits:
            retry = max(1, math.ceil(max(waits)))
            raise TooManyAttemptsError(f"too many failed logins; try again in {retry} s", retry)

    def failed(self, keys: list[str], now: datetime) -> None:
        """Count a failure on every key."""
        for key in keys:
            self._throttles.fail(key, now, self._reset_after, self._backoff.delay)

    def succeeded(self, username: str) -> None:
        """Clear the account counter."""
        self._throttles.clear(account_key(username))
