"""Capped exponential backoff with full jitter for reconnecting cameras."""

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Delays for successive reconnect attempts: ``initial * 2**n`` capped at ``maximum``, jittered.

    Jitter spreads reconnects of many cameras that dropped together (a switch reboot) so they do not
    hammer the network at the same instant. ``reset()`` after a successful connection.
    """

    initial_s: float = 1.0
    maximum_s: float = 30.0
    jitter: float = 0.2
    attempts: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.maximum_s < self.initial_s:
            raise ValueError(
                f"backoff needs 0 < initial_s <= maximum_s, got initial_s={self.initial_s} "
                f"maximum_s={self.maximum_s}"
            )
        if not 0.0 <= self.jitter < 1.0:
            raise ValueError(f"jitter must be within [0, 1), got {self.jitter}")

    def next_delay(self) -> float:
        """Return the delay before the next attempt and count the attempt."""
        base = min(self.maximum_s, self.initial_s * (2.0 ** min(self.attempts, 30)))
        self.attempts += 1
        spread = base * self.jitter
        return max(0.0, base - spread + self._rng.random() * 2.0 * spread)

    def reset(self) -> None:
        """Forget previous failures."""
        self.attempts = 0
