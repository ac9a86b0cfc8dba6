"""Remediation against the real livekit-server: a step about a room LiveKit has closed is
done (LiveKit answers 503, not 404, for a dispatch of a deleted room), and a task LiveKit
keeps refusing is audited on its first failure and when it gives up, not per attempt.
Both database backends."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from control_plane.audit.tables import AuditRecord
from control_plane.config import LiveKitSettings
from control_plane.livekit.client import LiveKitClient
from control_plane.livekit.remediation import (
    RemediationKind,
    RemediationPolicy,
    run_due_remediations,
    schedule_remediation,
)
from control_plane.livekit.tables import RemediationTask
from control_plane.store.engine import create_engine, is_sqlite
from control_plane.store.migrate import upgrade_database
from control_plane.store.uow import unit_of_work
from tests.support.app import FrozenClock
from tests.support.harness import HarnessEnv

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

POLICY = RemediationPolicy(
    lease=timedelta(seconds=30),
    max_backoff=timedelta(seconds=60),
    give_up_after=timedelta(hours=24),
)


@pytest_asyncio.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    if is_sqlite(database_url):
        await upgrade_database(database_url)
    created = create_engine(database_url)
    try:
        yield created
    finally:
        await created.dispose()


def _livekit(env: HarnessEnv, *, url: str | None = None) -> LiveKitClient:
    return LiveKitClient(
        LiveKitSettings(
            url=url or env.livekit_url,
            api_key=env.livekit_api_key,
            api_secret=SecretStr(env.livekit_api_secret),
            timeout_seconds=5,
        )
    )


async def _schedule(engine: AsyncEngine, room: str, clock: FrozenClock) -> str:
    async with unit_of_work(engine) as tx:
        task = await schedule_remediation(
            tx,
            kind=RemediationKind.DELETE_DISPATCH,
            room=room,
            dispatch_id="AD_" + secrets.token_hex(6),
            reason="session ended",
            now=clock(),
            wake=None,
        )
    return task.id


async def _task_and_records(
    engine: AsyncEngine, task_id: str
) -> tuple[RemediationTask, list[AuditRecord]]:
    async with unit_of_work(engine) as tx:
        task = await tx.get(RemediationTask, task_id)
        records = (
            await tx.exec(
                select(AuditRecord).where(col(AuditRecord.event_type) == "remediation.action")
            )
        ).all()
    assert task is not None
    return task, list(records)


async def test_a_dispatch_of_a_deleted_room_is_done_not_retried(
    engine: AsyncEngine, harness_env: HarnessEnv
) -> None:
    clock = FrozenClock()
    livekit = _livekit(harness_env)
    room = f"audit-gone-{secrets.token_hex(6)}"
    try:
        await livekit.create_room(
            name=room, empty_timeout=30, departure_timeout=1, max_participants=2
        )
        dispatch_id = await livekit.create_dispatch(
            room=room, agent_name="audit-nobody", metadata=""
        )
        await livekit.delete_room(room=room)
        async with unit_of_work(engine) as tx:
            task = await schedule_remediation(
                tx,
                kind=RemediationKind.DELETE_DISPATCH,
                room=room,
                dispatch_id=dispatch_id,
                reason="session ended",
                now=clock(),
                wake=None,
            )
        claimed = await run_due_remediations(
            engine, livekit=livekit, clock=clock, owner="test", policy=POLICY
        )
    finally:
        await livekit.aclose()
    assert claimed == 1
    done, records = await _task_and_records(engine, task.id)
    assert done.status == "done"
    assert [r.details["result"] for r in records] == ["room_gone"]
    assert [r.outcome for r in records] == ["success"]


async def test_a_refused_task_is_audited_on_its_first_failure_and_when_it_gives_up(
    engine: AsyncEngine, harness_env: HarnessEnv
) -> None:
    """LiveKit unreachable (nothing listens on the port): every attempt fails, but only
    the first failure and the final give-up reach the audit chain."""
    clock = FrozenClock()
    livekit = _livekit(harness_env, url="http://127.0.0.1:18499")
    task_id = await _schedule(engine, "audit-unreachable", clock)
    try:
        for _ in range(6):
            await run_due_remediations(
                engine, livekit=livekit, clock=clock, owner="t", policy=POLICY
            )
            clock.advance(timedelta(minutes=5))
        task, records = await _task_and_records(engine, task_id)
        assert (task.status, task.attempts) == ("pending", 6)
        assert [r.details["result"] for r in records] == ["unavailable"]
        clock.advance(POLICY.give_up_after)
        await run_due_remediations(engine, livekit=livekit, clock=clock, owner="t", policy=POLICY)
    finally:
        await livekit.aclose()
    task, records = await _task_and_records(engine, task_id)
    assert task.status == "failed"
    assert [r.details["result"] for r in records] == ["unavailable", "gave_up"]
    assert [r.outcome for r in records] == ["failure", "failure"]
