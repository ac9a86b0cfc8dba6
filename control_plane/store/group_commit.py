"""Group commit: concurrent requests share one transaction and one commit.

A single writer task takes whatever jobs are pending and runs them together in one unit of
work; each submitter waits for its own result, which it gets only after the commit. A lone
job is written at once (no batching delay); under load, the jobs that arrive while one
batch is being written form the next, so the cost of a transaction (begin, commit, and one
statement per table instead of one per job) is paid once per batch.

A job's refusal is a result like any other. If the batch fails because of what one job
brought (a bug it triggers, a constraint it breaks), each job is retried alone, so a
poisonous job fails only itself; if the store itself is unavailable (it cannot be reached,
a lock or statement timed out), every job of the batch fails at once rather than each
waiting its turn to time out. A job that fails gets ``unavailable()`` (503), never a
partial result.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.errors import ControlPlaneError
from control_plane.logs import get_logger
from control_plane.store.uow import unit_of_work

J = TypeVar("J")
R = TypeVar("R")
_log = get_logger("control_plane.store.group_commit")

MAX_BATCH = 128
STORE_DOWN = (OperationalError, InterfaceError, TimeoutError, OSError)
"""Failures of the store itself, not of one job: no job would fare better alone."""
WAIT_SECONDS = 10.0

WriteBatch = Callable[[AsyncSession, Sequence[J]], Awaitable[Sequence[R | ControlPlaneError]]]
Committed = Callable[[Sequence[J], Sequence[R | ControlPlaneError]], None]
"""Told of each batch once it has committed, before its submitters are answered."""


class GroupCommit(Generic[J, R]):
    """Owned by the lifespan: ``start()`` before serving, ``stop()`` writes what is pending
    and stops."""

    def __init__(
        self,
        engine: AsyncEngine,
        write: WriteBatch[J, R],
        *,
        name: str,
        unavailable: Callable[[], ControlPlaneError],
        max_batch: int = MAX_BATCH,
        wait_seconds: float = WAIT_SECONDS,
        committed: Committed[J, R] | None = None,
    ) -> None:
        self._engine = engine
        self._write_batch = write
        self._committed = committed
        self._name = name
        self._unavailable = unavailable
        self._max_batch = max_batch
        self._wait_seconds = wait_seconds
        self._pending: list[tuple[J, asyncio.Future[R]]] = []
        self._work = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """Write what is pending, then stop the writer."""
        self._closing = True
        self._work.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def submit(self, job: J) -> R:
        """The job's result once its batch has committed; raises its refusal, or
        ``unavailable()`` when it could not be written (or not within the wait)."""
        if self._closing or self._task is None:
            raise self._unavailable()
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((job, future))
        self._work.set()
        try:
            async with asyncio.timeout(self._wait_seconds):
                return await future
        except TimeoutError as exc:
            raise self._unavailable() from exc

    async def _run(self) -> None:
        while True:
            await self._work.wait()
            self._work.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._write(batch)
            if self._closing:
                return

    async def _write(self, batch: list[tuple[J, asyncio.Future[R]]]) -> None:
        live = [(job, future) for job, future in batch if not future.done()]
        if not live:
            return
        try:
            results = await self._commit([job for job, _ in live])
        except Exception as exc:  # the batch failed: see the module docstring
            _log.error(
                "store.group_commit_failed",
                service=self._name,
                error_code=type(exc).__name__,
                count=len(live),
            )
            if len(live) == 1 or isinstance(exc, STORE_DOWN):
                for _, future in live:
                    _settle(future, self._unavailable())
                return
            for one in live:
                await self._write([one])
            return
        for (_, future), result in zip(live, results, strict=True):
            _settle(future, result)

    async def _commit(self, jobs: Sequence[J]) -> Sequence[R | ControlPlaneError]:
        async with unit_of_work(self._engine) as tx:
            results = await self._write_batch(tx, jobs)
            if len(results) != len(jobs):
                raise RuntimeError("a batch writer must return one result per job")
        if self._committed is not None:
            self._committed(jobs, results)
        return results


def _settle(future: asyncio.Future[R], result: R | ControlPlaneError) -> None:
    if future.done():  # its submitter gave up waiting
        return
    if isinstance(result, ControlPlaneError):
        future.set_exception(result)
    else:
        future.set_result(result)
