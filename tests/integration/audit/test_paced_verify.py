"""Verification in short transactions (what the API and CLI run) on both backends: it
answers what one long transaction answers, gives way between batches, and neither
appends nor a retention purge during the walk produce a false finding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.audit.retention import purge_audit_records
from control_plane.audit.verify import verify_audit_paced
from control_plane.crypto.keyring import KeyRing
from control_plane.store.uow import unit_of_work
from tests.support.audit import append_events, execute_sql, sign_chain, verify_chain

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_paced_walk_answers_like_one_transaction_and_gives_way(
    engine: AsyncEngine, keys: KeyRing
) -> None:
    await append_events(engine, 23, start=T0)
    await sign_chain(engine, keys, T0 + timedelta(minutes=1))
    await append_events(engine, 4, start=T0 + timedelta(minutes=2))
    pauses = 0

    async def pace() -> None:
        nonlocal pauses
        pauses += 1

    paced = await verify_audit_paced(engine, public_key=keys.audit_public_key, batch=5, pace=pace)
    assert paced == await verify_chain(engine, keys)
    assert paced.is_intact
    assert paced.records_checked == 27
    assert pauses == 5  # 27 records, 5 per read transaction: a pause between each


async def test_a_tampered_record_is_named_as_the_single_transaction_names_it(
    engine: AsyncEngine, keys: KeyRing
) -> None:
    await append_events(engine, 12, start=T0)
    await execute_sql(engine, "UPDATE audit_record SET reason = 'edited' WHERE seq = 8")
    paced = await verify_audit_paced(engine, public_key=keys.audit_public_key, batch=3)
    whole = await verify_chain(engine, keys)
    assert paced == whole
    assert paced.chain_break is not None
    assert paced.chain_break.seq == 8


async def test_appends_and_a_retention_purge_during_the_walk_are_no_finding(
    engine: AsyncEngine, keys: KeyRing
) -> None:
    await append_events(engine, 20, start=T0)
    await sign_chain(engine, keys, T0 + timedelta(minutes=1))
    purged = False

    async def meanwhile() -> None:
        nonlocal purged
        await append_events(engine, 1, start=T0 + timedelta(minutes=3))
        if not purged:  # the first 12 records go while the walk is past only 4
            async with unit_of_work(engine) as tx:
                purge = await purge_audit_records(
                    tx, before=T0 + timedelta(seconds=12), now=T0 + timedelta(minutes=2)
                )
            assert purge is not None
            purged = True

    paced = await verify_audit_paced(
        engine, public_key=keys.audit_public_key, batch=4, pace=meanwhile
    )
    assert purged
    assert paced.is_intact, paced
    assert paced.anchor in {"retention", "checkpoint"}
