"""The LiveKit background work of one replica: webhook intake and processing, the
remediation executor and the reconciler, built once in the lifespan.

Every job is safe on every replica at once: webhook events and remediation tasks are
claimed with row leases, reconciler passes take a per-room advisory lease.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.clock import Clock
from control_plane.config import Settings
from control_plane.jobs import Job
from control_plane.livekit.client import LiveKitRooms
from control_plane.livekit.intake import WebhookIntake
from control_plane.livekit.participation import AuditSettings
from control_plane.livekit.processing import WAKE_WEBHOOKS, ProcessingPolicy, WebhookProcessor
from control_plane.livekit.reconcile import WAKE_RECONCILE, reconcile_rooms
from control_plane.livekit.remediation import (
    WAKE_REMEDIATION,
    RemediationPolicy,
    Wake,
    run_due_remediations,
)
from control_plane.livekit.webhook import WebhookPolicy


def replica_id() -> str:
    """A short id for lease ownership: host, pid and a random tail."""
    return f"{socket.gethostname()[:6]}-{os.getpid()}-{secrets.token_hex(2)}"[:18]


class LiveKitWork:
    """Owned by the lifespan: the intake (``start``/``stop``) and the jobs to run."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        livekit: LiveKitRooms,
        settings: Settings,
        clock: Clock,
        wake: Wake,
    ) -> None:
        hooks = settings.webhooks
        self._engine = engine
        self._livekit = livekit
        self._clock = clock
        self._settings = settings
        self.owner = replica_id()
        self.audit = AuditSettings(
            rekick=timedelta(seconds=hooks.rekick_seconds),
            remediate_unknown_rooms=hooks.unknown_rooms == "remediate",
            wake=wake,
        )
        self.policy = WebhookPolicy(
            api_key=settings.livekit.webhook_api_key,
            api_secret=settings.livekit.webhook_api_secret.get_secret_value(),
            freshness=timedelta(seconds=hooks.freshness_seconds),
            future_skew=timedelta(seconds=hooks.future_skew_seconds),
            max_body_bytes=hooks.max_body_bytes,
        )
        self.remediation = RemediationPolicy(
            lease=timedelta(seconds=hooks.lease_seconds),
            max_backoff=timedelta(seconds=hooks.remediation_max_backoff_seconds),
            give_up_after=timedelta(seconds=hooks.remediation_give_up_seconds),
        )
        self.intake = WebhookIntake(engine, on_stored=self._announce)
        self.processor = WebhookProcessor(
            engine,
            livekit=livekit,
            settings=self.audit,
            policy=ProcessingPolicy(
                lease=timedelta(seconds=hooks.lease_seconds),
                grace=timedelta(seconds=hooks.process_grace_seconds),
                max_attempts=hooks.max_process_attempts,
                max_backoff=timedelta(seconds=hooks.remediation_max_backoff_seconds),
            ),
            clock=clock,
            owner=self.owner,
            wake=wake,
            pace=self.intake.pace,
            busy=lambda: self.intake.is_busy,
        )

    def _announce(self, ids: Sequence[str]) -> None:
        self.processor.enqueue(ids)

    async def _remediate(self) -> int:
        return await run_due_remediations(
            self._engine,
            livekit=self._livekit,
            clock=self._clock,
            owner=self.owner,
            policy=self.remediation,
        )

    async def _reconcile(self) -> object:
        return await reconcile_rooms(
            self._engine, livekit=self._livekit, settings=self.audit, clock=self._clock
        )

    def jobs(self) -> list[Job]:
        hooks = self._settings.webhooks
        return [
            Job(WAKE_WEBHOOKS, hooks.process_interval_seconds, self.processor.step),
            Job(WAKE_REMEDIATION, hooks.remediation_interval_seconds, self._remediate),
            Job(WAKE_RECONCILE, hooks.reconcile_interval_seconds, self._reconcile),
        ]
