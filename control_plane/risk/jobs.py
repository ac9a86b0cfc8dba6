"""Risk background jobs: delivering anomaly alerts to the configured webhook."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.config import Settings
from control_plane.jobs import Job
from control_plane.risk.alerts import AlertTarget, deliver_alerts_step

ALERT_JOB = "risk.alerts"


def risk_jobs(
    engine: AsyncEngine,
    *,
    http: Callable[[], httpx.AsyncClient],
    settings: Settings,
    clock: Callable[[], datetime],
) -> list[Job]:
    """The alert delivery job when ``webhooks.alert_url`` is set (none otherwise).

    ``http`` returns the lifespan's shared client (it exists only once the app state is
    built, after the job list).
    """
    if not settings.webhooks.alert_url:
        return []
    target = AlertTarget(
        url=settings.webhooks.alert_url,
        secret=settings.webhooks.alert_secret.get_secret_value().encode(),
        max_attempts=settings.risk.alert_max_attempts,
        interval_seconds=settings.risk.alert_interval_seconds,
    )

    async def step() -> int:
        return await deliver_alerts_step(engine, http(), target, clock=clock)

    return [Job(ALERT_JOB, settings.risk.alert_interval_seconds, step)]
