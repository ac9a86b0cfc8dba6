"""Retention on an injected clock and both backends: each class is kept until exactly its
period has passed, purged at that instant, audited with counts; a legal hold stops it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import insert
from sqlmodel import col, select

from control_plane.audit.service import write_checkpoint
from control_plane.audit.tables import AuditRecord
from control_plane.audit.verify import verify_audit
from control_plane.identity.tables import Subject
from control_plane.privacy.finalize import finalize_due_sessions, finalize_session
from control_plane.privacy.retention import run_retention
from control_plane.privacy.tables import TranscriptSegment, TranscriptSession
from control_plane.sessions.tables import SessionMember, VoiceSession
from control_plane.store.metadata import load_metadata
from control_plane.store.uow import unit_of_work
from tests.integration.privacy.support import (
    CANARY_SEGMENTS,
    bearer,
    create_session,
    post_transcript,
    privacy_app,
    set_retention_class,
    worker_credential,
)
from tests.support.app import FrozenClock, RunningApp
from tests.support.harness import HarnessEnv

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

US = timedelta(microseconds=1)
DAY = timedelta(days=1)


@pytest_asyncio.fixture
async def app(
    tmp_path: Path, database_url: str, harness_env: HarnessEnv, clock: FrozenClock
) -> AsyncIterator[RunningApp]:
    async with privacy_app(tmp_path, database_url, harness_env, clock) as running:
        yield running


async def _seed(app: RunningApp, headers: dict[str, str], *, keep_raw: bool = False) -> str:
    session = await create_session(app, headers)
    sid = str(session["session_id"])
    if keep_raw:
        await set_retention_class(app, sid, "keep_raw")
    credential = await worker_credential(app, sid)
    assert (await post_transcript(app, sid, credential, CANARY_SEGMENTS)).status_code == 201
    return sid


async def _finalize(app: RunningApp, sid: str) -> None:
    async with unit_of_work(app.state.engine) as tx:
        await finalize_session(
            tx,
            keys=app.state.keys,
            redactor=app.state.redactor,
            session_id=sid,
            reason="room_finished",
            now=app.state.clock(),
        )


async def _purge(app: RunningApp, at: datetime) -> dict[str, dict[str, int]]:
    report = await run_retention(app.state.engine, settings=app.state.settings.retention, now=at)
    return report.counts


async def _count(app: RunningApp, sid: str) -> tuple[int, int, bool]:
    """(segments, segments with raw text, session row present)."""
    async with unit_of_work(app.state.engine) as tx:
        segments = (
            await tx.exec(select(TranscriptSegment).where(col(TranscriptSegment.session_id) == sid))
        ).all()
        session = await tx.get(VoiceSession, sid)
        raw = sum(1 for s in segments if s.raw_ct is not None)
        return len(segments), raw, session is not None


async def test_each_class_is_purged_exactly_on_time(
    app: RunningApp, harness_env: HarnessEnv
) -> None:
    alice = bearer(harness_env, "alice")
    t0 = app.state.clock()
    raw_sid = await _seed(app, alice, keep_raw=True)  # never finalised: raw clock only
    sid = await _seed(app, alice)
    await _finalize(app, sid)
    webhooks = load_metadata().tables.get("livekit_webhook_event")
    if webhooks is not None:
        async with unit_of_work(app.state.engine) as tx:
            conn = await tx.connection()
            await conn.execute(
                insert(webhooks).values(
                    id="EV_retention",
                    event="room_started",
                    created_at=t0,
                    received_at=t0,
                    body="{}",
                    outcome="",
                    attempts=0,
                    last_error="",
                )
            )
    # Raw text: 24 h after it was stored.
    assert await _purge(app, t0 + DAY - US) == {}
    assert (await _count(app, raw_sid))[1] == 4
    purged = await _purge(app, t0 + DAY)
    assert purged["raw_transcript"] == {"transcript_segment": 4}
    assert await _count(app, raw_sid) == (4, 0, True)
    # Webhook bodies: 7 days after receipt.
    if webhooks is not None:
        assert "webhook_body" not in await _purge(app, t0 + 7 * DAY - US)
        assert (await _purge(app, t0 + 7 * DAY))["webhook_body"] == {"livekit_webhook_event": 1}
    # Redacted text: 30 days after finalisation; the session's metadata stays.
    assert await _purge(app, t0 + 30 * DAY - US) == {}
    assert (await _purge(app, t0 + 30 * DAY))["redacted_transcript"] == {"transcript_segment": 4}
    assert await _count(app, sid) == (0, 0, True)
    # Session metadata: 90 days after finalisation, with every row of the session.
    assert await _purge(app, t0 + 90 * DAY - US) == {}
    metadata = (await _purge(app, t0 + 90 * DAY))["session_metadata"]
    assert metadata["voice_session"] == 1
    assert metadata["session_member"] == 1
    assert metadata["transcript_session"] == 1
    assert metadata["mint_ledger"] >= 1
    assert await _count(app, sid) == (0, 0, False)
    assert await _count(app, raw_sid) == (4, 0, True)  # never finalised: no clock started
    async with unit_of_work(app.state.engine) as tx:
        members = (
            await tx.exec(select(SessionMember).where(col(SessionMember.session_id) == sid))
        ).all()
        assert members == []
        purges = (
            await tx.exec(
                select(AuditRecord).where(col(AuditRecord.event_type) == "retention.purged")
            )
        ).all()
        classes = {r.details["class"] for r in purges if "class" in r.details}
        assert {"raw_transcript", "redacted_transcript", "session_metadata"} <= classes
        assert all(r.details["counts"] for r in purges)


async def test_legal_hold_suspends_retention(app: RunningApp, harness_env: HarnessEnv) -> None:
    alice = bearer(harness_env, "alice")
    t0 = app.state.clock()
    held_session = await _seed(app, alice)
    other = await _seed(app, alice)
    for sid in (held_session, other):
        await _finalize(app, sid)
    async with unit_of_work(app.state.engine) as tx:
        session = await tx.get(VoiceSession, held_session)
        assert session is not None
        session.legal_hold = True
        tx.add(session)
    late = t0 + 400 * DAY
    await _purge(app, late)
    assert await _count(app, held_session) == (4, 0, True)
    assert await _count(app, other) == (0, 0, False)
    # A hold on the subject covers all of its sessions.
    async with unit_of_work(app.state.engine) as tx:
        session = await tx.get(VoiceSession, held_session)
        assert session is not None
        session.legal_hold = False
        tx.add(session)
        subject = await tx.get(Subject, session.owner_subject_id)
        assert subject is not None
        subject.legal_hold = True
        tx.add(subject)
    await _purge(app, late)
    assert await _count(app, held_session) == (4, 0, True)
    async with unit_of_work(app.state.engine) as tx:
        subject = await tx.get(Subject, session.owner_subject_id)
        assert subject is not None
        subject.legal_hold = False
        tx.add(subject)
    await _purge(app, late)
    assert await _count(app, held_session) == (0, 0, False)


async def test_audit_records_are_purged_as_a_verified_prefix(
    app: RunningApp, harness_env: HarnessEnv
) -> None:
    t0 = app.state.clock()
    await _seed(app, bearer(harness_env, "alice"))
    async with unit_of_work(app.state.engine) as tx:
        await write_checkpoint(tx, key=app.state.keys.audit_signing_key, now=t0)
    assert "audit_record" not in await _purge(app, t0 + 365 * DAY - timedelta(seconds=1))
    purged = await _purge(app, t0 + 365 * DAY)
    assert purged["audit_record"]["audit_record"] > 0
    async with unit_of_work(app.state.engine) as tx:
        report = await verify_audit(tx, public_key=app.state.keys.audit_public_key)
        assert report.is_intact, report


async def test_the_finaliser_closes_expired_sessions(
    app: RunningApp, harness_env: HarnessEnv, clock: FrozenClock
) -> None:
    sid = await _seed(app, bearer(harness_env, "alice"), keep_raw=True)
    assert (
        await finalize_due_sessions(
            app.state.engine, keys=app.state.keys, redactor=app.state.redactor, now=clock()
        )
        == []
    )
    clock.advance(timedelta(seconds=app.state.settings.tokens.max_session_seconds + 60))
    reports = await finalize_due_sessions(
        app.state.engine, keys=app.state.keys, redactor=app.state.redactor, now=clock()
    )
    assert [r.session_id for r in reports] == [sid]
    assert reports[0].raw_destroyed == 4
    async with unit_of_work(app.state.engine) as tx:
        session = await tx.get(VoiceSession, sid)
        state = await tx.get(TranscriptSession, sid)
        assert session is not None
        assert session.finalized_at is not None
        assert session.status == "ended"
        assert state is not None
        assert state.placeholder_ct is None
    # Idempotent: nothing left to do.
    assert (
        await finalize_due_sessions(
            app.state.engine, keys=app.state.keys, redactor=app.state.redactor, now=clock()
        )
        == []
    )
