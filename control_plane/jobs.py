"""Background loops owned by the lifespan: each job step runs on an interval, errors are
logged (never fatal), and every loop stops when the app stops.

Job steps must be idempotent and take a lease or row lock per unit of work, so every
replica can run every job (DESIGN.md "Background reconcilers are safe to run on every
replica").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from control_plane.logs import get_logger

_log = get_logger("control_plane.jobs")

JobStep = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Job:
    name: str
    interval_seconds: float
    step: JobStep


class JobRunner:
    """Runs jobs as asyncio tasks; ``wake(name)`` runs a job's next step now."""

    def __init__(self, jobs: list[Job]) -> None:
        self._jobs = {job.name: job for job in jobs}
        self._wakeups = {job.name: asyncio.Event() for job in jobs}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for job in self._jobs.values():
            self._tasks.append(asyncio.create_task(self._loop(job), name=f"job:{job.name}"))

    def wake(self, name: str) -> None:
        event = self._wakeups.get(name)
        if event is not None:
            event.set()

    async def _loop(self, job: Job) -> None:
        wakeup = self._wakeups[job.name]
        while True:
            try:
                await job.step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a process edge: log, keep the loop alive
                _log.error("job.step_failed", service=job.name, error_code=type(exc).__name__)
            # Not asyncio.wait_for: on 3.11 it swallows a cancel that races a wake-up
            # (the event set just before stop()), and stop() then waits forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(job.interval_seconds):
                    await wakeup.wait()
            wakeup.clear()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
