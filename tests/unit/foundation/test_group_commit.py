"""Group commit: concurrent jobs share a transaction, each gets its own result or refusal,
a failing batch is retried job by job, and nothing is lost at stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.errors import ControlPlaneError, NotFound, Unavailable
from control_plane.store.engine import create_engine
from control_plane.store.group_commit import GroupCommit

pytestmark = pytest.mark.asyncio


class Gone(NotFound):
    code = "gone"


class Down(Unavailable):
    code = "down"


class Writer:
    """Squares each job; refuses negatives; raises for 13 (a bug one job triggers)."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(
        self, tx: AsyncSession, jobs: Sequence[int]
    ) -> Sequence[int | ControlPlaneError]:
        self.batches.append(list(jobs))
        await self.release.wait()
        if 13 in jobs:
            raise RuntimeError("poison")
        if 99 in jobs:
            raise OperationalError("INSERT ...", {}, Exception("database is locked"))
        connection = await tx.connection()  # a real transaction on a real engine
        await connection.execute(text("SELECT 1"))
        return [Gone() if job < 0 else job * job for job in jobs]


@pytest_asyncio.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'gc.db'}")
    try:
        yield engine
    finally:
        await engine.dispose()


def _committer(engine: AsyncEngine, writer: Writer, **kwargs: float) -> GroupCommit[int, int]:
    return GroupCommit(engine, writer, name="test", unavailable=Down, **kwargs)  # type: ignore[arg-type]


async def test_a_lone_job_is_written_at_once(engine: AsyncEngine) -> None:
    writer = Writer()
    committer = _committer(engine, writer)
    committer.start()
    try:
        assert await committer.submit(3) == 9
        assert writer.batches == [[3]]
    finally:
        await committer.stop()


async def test_jobs_that_arrive_together_share_one_batch(engine: AsyncEngine) -> None:
    writer = Writer()
    committer = _committer(engine, writer)
    committer.start()
    try:
        results = await asyncio.gather(*(committer.submit(n) for n in range(20, 40)))
        assert results == [n * n for n in range(20, 40)]
        assert writer.batches == [list(range(20, 40))]
    finally:
        await committer.stop()


async def test_jobs_arriving_during_a_write_form_the_next_batch(engine: AsyncEngine) -> None:
    writer = Writer()
    writer.release.clear()
    committer = _committer(engine, writer)
    committer.start()
    try:
        first = asyncio.create_task(committer.submit(1))
        await asyncio.sleep(0.01)  # the writer holds batch [1]
        later = [asyncio.create_task(committer.submit(n)) for n in (2, 3, 4)]
        await asyncio.sleep(0.01)
        writer.release.set()
        assert await first == 1
        assert [await task for task in later] == [4, 9, 16]
        assert writer.batches == [[1], [2, 3, 4]]
    finally:
        await committer.stop()


async def test_a_refusal_reaches_only_its_submitter(engine: AsyncEngine) -> None:
    writer = Writer()
    committer = _committer(engine, writer)
    committer.start()
    try:
        results = await asyncio.gather(
            committer.submit(2), committer.submit(-1), committer.submit(5), return_exceptions=True
        )
        assert results[0] == 4
        assert isinstance(results[1], Gone)
        assert results[2] == 25
        assert len(writer.batches) == 1
    finally:
        await committer.stop()


async def test_a_poisonous_job_fails_alone_after_the_batch_is_retried_job_by_job(
    engine: AsyncEngine,
) -> None:
    writer = Writer()
    committer = _committer(engine, writer)
    committer.start()
    try:
        results = await asyncio.gather(
            committer.submit(2), committer.submit(13), committer.submit(3), return_exceptions=True
        )
        assert results[0] == 4
        assert isinstance(results[1], Down)
        assert results[2] == 9
        assert writer.batches == [[2, 13, 3], [2], [13], [3]]
    finally:
        await committer.stop()


async def test_a_writer_returning_the_wrong_number_of_results_fails_closed(
    engine: AsyncEngine,
) -> None:
    async def short(tx: AsyncSession, jobs: Sequence[int]) -> Sequence[int | ControlPlaneError]:
        return []

    committer: GroupCommit[int, int] = GroupCommit(engine, short, name="t", unavailable=Down)
    committer.start()
    try:
        with pytest.raises(Down):
            await committer.submit(1)
    finally:
        await committer.stop()


async def test_a_job_not_written_in_time_is_unavailable(engine: AsyncEngine) -> None:
    writer = Writer()
    writer.release.clear()
    committer = _committer(engine, writer, wait_seconds=0.05)
    committer.start()
    try:
        with pytest.raises(Down):
            await committer.submit(1)
        writer.release.set()
    finally:
        await committer.stop()


async def test_stop_writes_what_is_pending_then_refuses(engine: AsyncEngine) -> None:
    writer = Writer()
    writer.release.clear()
    committer = _committer(engine, writer)
    committer.start()
    first = asyncio.create_task(committer.submit(1))
    await asyncio.sleep(0.01)
    pending = asyncio.create_task(committer.submit(2))
    await asyncio.sleep(0.01)
    stopping = asyncio.create_task(committer.stop())
    await asyncio.sleep(0.01)
    writer.release.set()
    await stopping
    assert (await first, await pending) == (1, 4)
    with pytest.raises(Down):
        await committer.submit(3)


async def test_a_committer_never_started_refuses(engine: AsyncEngine) -> None:
    with pytest.raises(Down):
        await _committer(engine, Writer()).submit(1)


async def test_a_store_that_is_down_fails_the_whole_batch_at_once(engine: AsyncEngine) -> None:
    writer = Writer()
    committer = _committer(engine, writer)
    committer.start()
    try:
        results = await asyncio.gather(
            committer.submit(2), committer.submit(99), committer.submit(3), return_exceptions=True
        )
        assert all(isinstance(r, Down) for r in results)
        assert writer.batches == [[2, 99, 3]]  # no one-by-one retry: none would fare better
        assert await committer.submit(4) == 16  # and the next batch is written as usual
    finally:
        await committer.stop()


async def test_a_committed_batch_is_announced_before_its_submitters_hear(
    engine: AsyncEngine,
) -> None:
    writer = Writer()
    announced: list[tuple[list[int], list[object]]] = []

    def committed(jobs: Sequence[int], results: Sequence[int | ControlPlaneError]) -> None:
        announced.append((list(jobs), list(results)))

    committer: GroupCommit[int, int] = GroupCommit(
        engine, writer, name="t", unavailable=Down, committed=committed
    )
    committer.start()
    try:
        assert await committer.submit(5) == 25
        assert announced == [([5], [25])]
        with pytest.raises(Down):
            await committer.submit(99)  # the store is down: nothing committed, nothing told
        assert len(announced) == 1
    finally:
        await committer.stop()
