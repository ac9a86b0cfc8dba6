"""Retention purges a checkpoint-covered prefix and verification still passes; removing
records any other way is found."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from control_plane.audit.chain import ChainBreak
from control_plane.audit.jobs import preverify, run_checkpoint_step
from control_plane.audit.retention import purge_audit_records
from control_plane.audit.service import (
    AuditChainBroken,
    VerifiedPrefix,
    find_chain_bounds,
    write_checkpoint,
)
from control_plane.audit.tables import AuditCheckpoint
from control_plane.config import AuditSettings
from control_plane.crypto.keyring import KeyRing
from control_plane.store.engine import create_engine
from control_plane.store.uow import unit_of_work
from tests.support.audit import append_events, execute_sql, sign_chain, verify_chain

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_purged_prefix_still_verifies_and_keeps_verifying(
    engine: AsyncEngine, keys: KeyRing
) -> None:
    await append_events(engine, 10, start=T0, step=timedelta(days=1))  # days 0..9
    await sign_chain(engine, keys, T0 + timedelta(days=10))
    async with unit_of_work(engine) as tx:
        purge = await purge_audit_records(
            tx, before=T0 + timedelta(days=6), now=T0 + timedelta(days=10)
        )
    assert purge is not None
    assert (purge.count, purge.through_seq, purge.record_seq) == (6, 6, 11)
    report = await verify_chain(engine, keys)
    assert report.is_intact, report
    assert (report.first_seq, report.head_seq, report.anchor) == (7, 11, "retention")
    # The checkpoint after the purge signs the new start; a second purge takes the first
    # purge record with it and the second one vouches for the new start.
    await append_events(engine, 3, start=T0 + timedelta(days=11))
    await sign_chain(engine, keys, T0 + timedelta(days=12))
    async with unit_of_work(engine) as tx:
        again = await purge_audit_records(
            tx, before=T0 + timedelta(days=11, hours=1), now=T0 + timedelta(days=12)
        )
    assert again is not None
    assert (again.through_seq, again.count, again.record_seq) == (14, 8, 15)
    report = await verify_chain(engine, keys)
    assert report.is_intact, report
    assert (report.first_seq, report.head_seq, report.anchor) == (15, 15, "retention")
    await append_events(engine, 1, start=T0 + timedelta(days=13))
    await sign_chain(engine, keys, T0 + timedelta(days=13))
    assert (await verify_chain(engine, keys)).is_intact


async def test_purge_waits_for_a_checkpoint(engine: AsyncEngine) -> None:
    await append_events(engine, 5, start=T0)
    async with unit_of_work(engine) as tx:
        assert await purge_audit_records(tx, before=T0 + timedelta(days=1), now=T0) is None


async def test_prefix_deleted_without_the_purge_path_is_found(
    engine: AsyncEngine, keys: KeyRing
) -> None:
    await append_events(engine, 10, start=T0)
    await sign_chain(engine, keys, T0 + timedelta(minutes=1))
    await append_events(engine, 10, start=T0 + timedelta(minutes=2))
    await sign_chain(engine, keys, T0 + timedelta(minutes=3))
    # Truncation exactly at a checkpoint boundary: the link of record 11 is signed (as the
    # head of the first checkpoint), but no checkpoint or purge record says the chain
    # starts there.
    await execute_sql(engine, "DELETE FROM audit_record WHERE seq <= 10")
    report = await verify_chain(engine, keys)
    assert report.chain_break is not None
    assert report.chain_break.seq == 11
    assert "no retention record" in report.chain_break.reason
    # And the checkpoint job refuses to bless the truncated chain.
    await append_events(engine, 1, start=T0 + timedelta(minutes=4))
    with pytest.raises(AuditChainBroken):
        async with unit_of_work(engine) as tx:
            await write_checkpoint(tx, key=keys.audit_signing_key, now=T0 + timedelta(hours=1))


async def test_checkpoint_job_signs_when_due_and_not_before(
    engine: AsyncEngine, keys: KeyRing
) -> None:
    settings = AuditSettings(checkpoint_interval_seconds=300, checkpoint_every_records=5)

    async def step(now: datetime) -> int | None:
        written = await run_checkpoint_step(
            engine, key=keys.audit_signing_key, settings=settings, now=now
        )
        return written.head_seq if written else None

    assert await step(T0) is None  # empty chain
    await append_events(engine, 2, start=T0)
    assert await step(T0) == 2  # the first checkpoint is always due
    assert await step(T0 + timedelta(seconds=10)) is None  # head unchanged
    await append_events(engine, 2, start=T0)
    assert await step(T0 + timedelta(seconds=20)) is None  # too soon, too few records
    assert await step(T0 + timedelta(seconds=400)) == 4  # the interval passed
    await append_events(engine, 5, start=T0)
    assert await step(T0 + timedelta(seconds=401)) == 9  # enough records piled up
    assert (await verify_chain(engine, keys)).is_intact


async def test_checkpoint_job_on_two_replicas_signs_once(audit_db: str, keys: KeyRing) -> None:
    settings = AuditSettings(checkpoint_interval_seconds=300, checkpoint_every_records=5)
    engines = [create_engine(audit_db), create_engine(audit_db)]
    try:
        await append_events(engines[0], 3, start=T0)
        written = await asyncio.gather(
            *(
                run_checkpoint_step(e, key=keys.audit_signing_key, settings=settings, now=T0)
                for e in engines
            )
        )
        assert len([w for w in written if w is not None]) == 1
        async with unit_of_work(engines[1]) as tx:
            rows = (await tx.exec(select(AuditCheckpoint))).all()
        assert [(r.first_seq, r.head_seq) for r in rows] == [(1, 3)]
    finally:
        for engine in engines:
            await engine.dispose()


async def test_checkpoint_job_walks_new_records_in_batches_and_refuses_a_break(
    engine: AsyncEngine, keys: KeyRing
) -> None:
    settings = AuditSettings(checkpoint_interval_seconds=300, checkpoint_every_records=5)
    await append_events(engine, 10, start=T0)
    first = await run_checkpoint_step(engine, key=keys.audit_signing_key, settings=settings, now=T0)
    assert first is not None
    await append_events(engine, 25, start=T0)
    start = (first.head_seq, first.head_hash)
    prefix = await preverify(engine, start=start, through_seq=35, batch=7)
    assert isinstance(prefix, VerifiedPrefix)
    assert (prefix.start, prefix.through[0], prefix.checked) == (start, 35, 25)
    await execute_sql(engine, "UPDATE audit_record SET reason = 'rewritten' WHERE seq = 23")
    found = await preverify(engine, start=start, through_seq=35, batch=7)
    assert isinstance(found, ChainBreak)
    assert found.seq == 23
    later = T0 + timedelta(minutes=10)
    assert (
        await run_checkpoint_step(engine, key=keys.audit_signing_key, settings=settings, now=later)
        is None
    )
    async with unit_of_work(engine) as tx:
        rows = (await tx.exec(select(AuditCheckpoint))).all()
    assert [r.head_seq for r in rows] == [10]  # nothing signed over the altered record


async def test_a_prefix_from_another_start_is_not_trusted(
    engine: AsyncEngine, keys: KeyRing
) -> None:
    await append_events(engine, 12, start=T0)
    await sign_chain(engine, keys, T0)
    await append_events(engine, 6, start=T0)
    await execute_sql(engine, "UPDATE audit_record SET reason = 'rewritten' WHERE seq = 15")
    async with unit_of_work(engine) as tx:
        bounds = await find_chain_bounds(tx)
    assert bounds is not None
    # A prefix that claims to cover the altered records but did not start at the last
    # checkpoint's head is ignored: the locked walk starts from the checkpoint again.
    claimed = VerifiedPrefix(
        start=(0, "0" * 64), through=(bounds.head_seq, bounds.head_hash), checked=18, purges={}
    )
    with pytest.raises(AuditChainBroken) as caught:
        async with unit_of_work(engine) as tx:
            await write_checkpoint(
                tx, key=keys.audit_signing_key, now=T0 + timedelta(minutes=1), prefix=claimed
            )
    assert caught.value.chain_break.seq == 15
