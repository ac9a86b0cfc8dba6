"""Connections are handed out first come, first served: nobody is starved under load."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.util.concurrency import greenlet_spawn
from sqlalchemy.util.queue import Empty

from control_plane.store.engine import create_engine
from control_plane.store.pool import HandoffQueue

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_a_newcomer_queues_behind_the_waiters_when_the_connection_comes_back(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cp.db'}")
    order: list[str] = []

    async def use(name: str) -> None:
        async with engine.connect() as connection:
            order.append(name)
            await connection.execute(text("SELECT 1"))

    try:
        held = await engine.connect()  # the embedded pool's only connection
        waiters = [asyncio.create_task(use(f"waiter-{i}")) for i in range(5)]
        await asyncio.sleep(0.05)
        await held.close()
        # Same turn of the loop as the release: the old queue let this one barge in first.
        await use("newcomer")
        await asyncio.gather(*waiters)
        assert order == [f"waiter-{i}" for i in range(5)] + ["newcomer"]
    finally:
        await engine.dispose()


async def test_a_waiter_that_times_out_gets_a_pool_timeout_and_leaves_the_line() -> None:
    queue: HandoffQueue[str] = HandoffQueue(1)
    with pytest.raises(Empty):
        await greenlet_spawn(queue.get, True, 0.05)
    queue.put_nowait("connection")
    assert queue.get_nowait() == "connection"  # not handed to the departed waiter


async def test_a_connection_handed_to_a_cancelled_waiter_is_passed_on_not_lost() -> None:
    queue: HandoffQueue[str] = HandoffQueue(1)
    first = asyncio.create_task(greenlet_spawn(queue.get, True, 5.0))
    second = asyncio.create_task(greenlet_spawn(queue.get, True, 5.0))
    await asyncio.sleep(0.01)
    queue.put_nowait("connection")  # promised to the first waiter...
    first.cancel()  # ...which gives up before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await second == "connection"
    assert queue.empty()


async def test_idle_connections_never_exceed_the_pool_size() -> None:
    queue: HandoffQueue[str] = HandoffQueue(2)
    queue.put_nowait("a")
    queue.put_nowait("b")
    assert queue.full()
    assert queue.qsize() == 2
    assert queue.get_nowait() == "a"  # FIFO unless the pool asks for LIFO
    lifo: HandoffQueue[str] = HandoffQueue(2, use_lifo=True)
    lifo.put_nowait("a")
    lifo.put_nowait("b")
    assert lifo.get_nowait() == "b"
