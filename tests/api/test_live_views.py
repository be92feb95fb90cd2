"""Live-view auditing: one audit record per sitting, not one per refreshed frame."""

from watchkeeper.api.live import ViewThrottle


def test_a_view_is_audited_once_per_sitting() -> None:
    throttle = ViewThrottle(gap_s=60)
    assert throttle.starts_view("ann", "cam1", now=0.0)
    assert not throttle.starts_view("ann", "cam1", now=1.0)  # the console refreshes every second
    assert not throttle.starts_view("ann", "cam1", now=59.0)
    assert throttle.starts_view("bob", "cam1", now=2.0)  # another user
    assert throttle.starts_view("ann", "cam2", now=3.0)  # another camera
    assert throttle.starts_view("ann", "cam1", now=200.0)  # came back after a gap


def test_the_memory_is_bounded() -> None:
    throttle = ViewThrottle(gap_s=60, max_entries=3)
    for index in range(10):
        throttle.starts_view("ann", f"cam{index}", now=float(index))
    assert throttle.starts_view("ann", "cam0", now=11.0)  # forgotten, so it counts as a new view
    assert not throttle.starts_view("ann", "cam9", now=11.0)
