"""Whose records: what webhook processing writes about a tenant's room (audit records and
anomalies) belongs to that tenant, whatever the order in which LiveKit's events and the
session's commit arrive. Real webhook handling on both database backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from control_plane.audit.tables import AuditRecord
from control_plane.livekit.client import UnconfiguredLiveKit
from control_plane.livekit.participation import AuditSettings
from control_plane.livekit.processing import (
    ROOM_COMMIT_GRACE,
    ProcessingPolicy,
    SessionPending,
    WebhookProcessor,
    handle_event,
    parse_stored,
)
from control_plane.livekit.tables import WebhookEvent
from control_plane.risk.tables import Anomaly
from control_plane.sessions.tables import VoiceSession
from control_plane.sessions.tenancy import new_room_name
from control_plane.store.engine import create_engine, is_sqlite
from control_plane.store.migrate import upgrade_database
from control_plane.store.uow import unit_of_work
from tests.support.app import FrozenClock
from tests.support.webhooks import event_body, participant_json

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

TENANT = "acme"
SETTINGS = AuditSettings(rekick=timedelta(minutes=15), remediate_unknown_rooms=True, wake=None)


@pytest_asyncio.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    if is_sqlite(database_url):
        await upgrade_database(database_url)
    created = create_engine(database_url)
    try:
        yield created
    finally:
        await created.dispose()


async def _add_session(engine: AsyncEngine, room: str, now: datetime) -> str:
    session_id = f"ses_{room[3:15]}"
    async with unit_of_work(engine) as tx:
        tx.add(
            VoiceSession(
                id=session_id,
                room_name=room,
                tenant=TENANT,
                owner_subject_id="sub_owner",
                created_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
    return session_id


async def _handle(engine: AsyncEngine, body: bytes, *, now: datetime, final: bool = False) -> str:
    message = parse_stored(body.decode())
    async with unit_of_work(engine) as tx:
        return await handle_event(
            tx,
            message,
            event_id=message.id,
            created_at=datetime.fromtimestamp(message.created_at, tz=now.tzinfo),
            dispatch_jobs=None,
            settings=SETTINGS,
            now=now,
            final=final,
        )


async def _records(engine: AsyncEngine) -> list[AuditRecord]:
    async with unit_of_work(engine) as tx:
        return list((await tx.exec(select(AuditRecord).order_by(col(AuditRecord.seq)))).all())


async def test_join_anomalies_belong_to_the_rooms_tenant(engine: AsyncEngine) -> None:
    """An unexplained join in a tenant's room: its anomaly, like its audit records, is the
    tenant's (listed to its auditors, hidden from other tenants'), not platform-wide."""
    now = FrozenClock()()
    room = new_room_name()
    await _add_session(engine, room, now)
    body = event_body(
        "participant_joined",
        room=room,
        created_at=int(now.timestamp()),
        participant=participant_json(identity="intruder", joined_at=now),
    )
    assert await _handle(engine, body, now=now) == "unexplained"
    async with unit_of_work(engine) as tx:
        anomalies = list((await tx.exec(select(Anomaly))).all())
    assert anomalies
    assert {a.tenant for a in anomalies} == {TENANT}
    assert {r.tenant for r in await _records(engine)} == {TENANT}


async def test_room_started_before_the_session_commits_waits_and_is_the_tenants(
    engine: AsyncEngine,
) -> None:
    """room_started delivered while the creating transaction is still open (the room is
    created inside it) is retried, not recorded platform-wide; once the session row is
    visible its record is the tenant's."""
    clock = FrozenClock()
    room = new_room_name()
    body = event_body("room_started", room=room, created_at=int(clock().timestamp()))
    with pytest.raises(SessionPending):
        await _handle(engine, body, now=clock())
    assert await _records(engine) == []
    await _add_session(engine, room, clock())
    clock.advance(timedelta(seconds=1))
    assert await _handle(engine, body, now=clock()) == "recorded"
    [record] = await _records(engine)
    assert record.tenant == TENANT
    assert record.details["kind"] == "room_started"


async def test_a_room_whose_session_never_commits_is_recorded_platform_wide_after_the_grace(
    engine: AsyncEngine,
) -> None:
    """The creating request rolled back: past the grace (or on the last attempt) the room
    is not ours, and its record is platform-wide; a room not named like ours never waits."""
    clock = FrozenClock()
    room = new_room_name()
    body = event_body("room_finished", room=room, created_at=int(clock().timestamp()))
    with pytest.raises(SessionPending):
        await _handle(engine, body, now=clock())
    assert await _handle(engine, body, now=clock(), final=True) == "recorded"
    clock.advance(ROOM_COMMIT_GRACE + timedelta(seconds=1))
    assert await _handle(engine, body, now=clock()) == "recorded"
    foreign = event_body(
        "room_started", room="somebody-elses-room", created_at=int(clock().timestamp())
    )
    assert await _handle(engine, foreign, now=clock()) == "recorded"
    assert [r.tenant for r in await _records(engine)] == [None, None, None]


async def test_a_failed_event_about_a_tenants_room_is_the_tenants(engine: AsyncEngine) -> None:
    """An event that cannot be processed leaves a failure record: its room's tenant's."""
    clock = FrozenClock()
    room = new_room_name()
    await _add_session(engine, room, clock())
    async with unit_of_work(engine) as tx:
        tx.add(
            WebhookEvent(
                id="EV_broken",
                event="room_started",
                room_name=room,
                created_at=clock(),
                received_at=clock(),
                body='{"event": 7}',
            )
        )
    processor = WebhookProcessor(
        engine,
        livekit=UnconfiguredLiveKit(),
        settings=SETTINGS,
        policy=ProcessingPolicy(
            lease=timedelta(seconds=30),
            grace=timedelta(0),
            max_attempts=1,
            max_backoff=timedelta(seconds=1),
        ),
        clock=clock,
        owner="test",
        wake=lambda _name: None,
    )
    clock.advance(timedelta(seconds=1))
    assert await processor.step() == 1
    [record] = await _records(engine)
    assert (record.outcome, record.tenant) == ("failure", TENANT)
