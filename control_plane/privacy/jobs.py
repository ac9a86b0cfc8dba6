"""The privacy domain's background jobs: the finaliser and the retention reconciler.

Both are safe on every replica: finalisation takes the session's row lock and is
idempotent; each retention batch takes its class's lease.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.clock import Clock
from control_plane.config import Settings
from control_plane.crypto.keyring import KeyRing
from control_plane.jobs import Job
from control_plane.privacy.finalize import finalize_due_sessions
from control_plane.privacy.redactor import TranscriptRedactor
from control_plane.privacy.retention import run_retention

FINALIZE_JOB = "privacy.finalize"
RETENTION_JOB = "privacy.retention"


def privacy_jobs(
    *,
    engine: AsyncEngine,
    keys: KeyRing,
    redactor: TranscriptRedactor,
    settings: Settings,
    clock: Clock,
) -> list[Job]:
    """The jobs to hand to the lifespan's JobRunner (none when privacy.jobs_enabled is off)."""
    if not settings.privacy.jobs_enabled:
        return []

    async def finalize() -> object:
        return await finalize_due_sessions(engine, keys=keys, redactor=redactor, now=clock())

    async def retention() -> object:
        return await run_retention(engine, settings=settings.retention, now=clock())

    return [
        Job(FINALIZE_JOB, settings.privacy.finalize_interval_seconds, finalize),
        Job(RETENTION_JOB, settings.retention.interval_seconds, retention),
    ]
