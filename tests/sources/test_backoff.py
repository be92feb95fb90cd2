import random

import pytest

from watchkeeper.sources import Backoff


def test_delays_double_until_the_cap_and_reset() -> None:
    backoff = Backoff(initial_s=1.0, maximum_s=8.0, jitter=0.0)
    assert [backoff.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    backoff.reset()
    assert backoff.next_delay() == 1.0


def test_jitter_stays_within_its_band_and_spreads_delays() -> None:
    backoff = Backoff(initial_s=4.0, maximum_s=4.0, jitter=0.25, _rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(200)]
    assert all(3.0 <= d <= 5.0 for d in delays)
    assert max(delays) - min(delays) > 1.0


@pytest.mark.parametrize(
    ("initial", "maximum", "jitter", "message"),
    [
        (0.0, 1.0, 0.1, "0 < initial_s"),
        (5.0, 1.0, 0.1, "initial_s <= maximum_s"),
        (1.0, 2.0, 1.5, "jitter must be within"),
    ],
)
def test_invalid_settings_are_rejected(initial: float, maximum: float, jitter: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(initial_s=initial, maximum_s=maximum, jitter=jitter)
