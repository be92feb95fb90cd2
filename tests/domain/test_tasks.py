"""``cancel_and_wait`` on real asyncio tasks: all cancelled, each clean-up finished, real failures raised."""

from __future__ import annotations

import asyncio

import pytest

from watchkeeper.domain.tasks import cancel_and_wait


async def test_every_task_is_cancelled_and_its_clean_up_has_run_when_it_returns() -> None:
    cleaned: list[str] = []

    async def worker(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.02)  # clean-up that itself awaits
            cleaned.append(name)

    async def done_early() -> None:
        return None

    tasks = [asyncio.create_task(worker("a")), asyncio.create_task(worker("b"))]
    finished = asyncio.create_task(done_early())
    await asyncio.sleep(0)  # let them start
    await cancel_and_wait([*tasks, finished])
    assert sorted(cleaned) == ["a", "b"]
    assert all(task.cancelled() for task in tasks)
    assert finished.done()
    assert not finished.cancelled()
    await cancel_and_wait([])  # nothing to stop is fine


async def test_a_task_that_failed_raises_its_error_and_the_others_are_still_cancelled() -> None:
    async def broken() -> None:
        raise RuntimeError("the consumer broke")

    async def idle() -> None:
        await asyncio.Event().wait()

    failing = asyncio.create_task(broken())
    other = asyncio.create_task(idle())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="the consumer broke"):
        await cancel_and_wait([failing, other])
    await asyncio.sleep(0)
    assert other.cancelled()
