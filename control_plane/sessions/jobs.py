"""Session background loops: the enforced maximum session duration."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.clock import Clock
from control_plane.jobs import Job
from control_plane.livekit.remediation import Wake
from control_plane.sessions.lifecycle import expire_due_sessions

WAKE_DEADLINE = "sessions.deadline"


def session_jobs(
    engine: AsyncEngine, *, clock: Clock, wake: Wake, interval_seconds: float
) -> list[Job]:
    """The deadline job: at ``expires_at`` a session ends and its participants are removed."""

    async def _expire() -> int:
        return await expire_due_sessions(engine, now=clock(), wake=wake)

    return [Job(WAKE_DEADLINE, interval_seconds, _expire)]
