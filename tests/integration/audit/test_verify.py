"""Tampering with the audit log in the database is found and named, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.audit.chain import record_hash
from control_plane.audit.service import AuditChainBroken, write_checkpoint
from control_plane.audit.tables import AuditRecord
from control_plane.crypto.keyring import KeyRing
from control_plane.store.uow import unit_of_work
from tests.support.audit import (
    CliTarget,
    append_events,
    execute_sql,
    run_cli,
    sign_chain,
    verify_chain,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_RECORDS = AuditRecord.__table__  # type: ignore[attr-defined]


async def _rehash_from(engine: AsyncEngine, seq: int) -> None:
    """What a careful attacker does after editing record ``seq``: recompute every hash."""
    async with engine.begin() as connection:
        rows = (
            (await connection.execute(select(_RECORDS).where(_RECORDS.c.seq >= seq - 1)))
            .mappings()
            .all()
        )
        prev_hash = str(rows[0]["hash"])
        for row in sorted(rows[1:], key=lambda r: int(r["seq"])):
            fields = {**row, "prev_hash": prev_hash}
            digest = record_hash(fields)
            await connection.execute(
                _RECORDS.update()
                .where(_RECORDS.c.seq == row["seq"])
                .values(prev_hash=prev_hash, hash=digest)
            )
            prev_hash = digest


async def test_intact_chain_with_checkpoints_verifies(engine: AsyncEngine, keys: KeyRing) -> None:
    await append_events(engine, 20, start=T0)
    await sign_chain(engine, keys, T0)
    await append_events(engine, 5, start=T0 + timedelta(minutes=1), tenant=None)
    await sign_chain(engine, keys, T0 + timedelta(minutes=2))
    report = await verify_chain(engine, keys)
    assert report.is_intact, report
    assert (report.first_seq, report.head_seq, report.records_checked) == (1, 25, 25)
    assert report.anchor == "genesis"
    assert report.checkpoints_checked == 2


async def test_sql_update_of_one_row_is_named_by_the_cli(
    engine: AsyncEngine, keys: KeyRing, cli: CliTarget
) -> None:
    await append_events(engine, 12, start=T0)
    await sign_chain(engine, keys, T0)
    ok = await run_cli(cli, "audit", "verify")
    assert ok.exit_code == 0, ok.stderr
    assert "OK:" in ok.stdout
    await execute_sql(engine, "UPDATE audit_record SET reason = 'nothing to see' WHERE seq = 7")
    report = await verify_chain(engine, keys)
    assert report.chain_break is not None
    assert report.chain_break.seq == 7
    assert "altered" in report.chain_break.reason
    bad = await run_cli(cli, "audit", "verify")
    assert bad.exit_code == 1
    assert "FAIL: record 7:" in bad.stdout


async def test_edited_row_with_recomputed_hashes_is_caught_by_the_checkpoint(
    engine: AsyncEngine, keys: KeyRing
) -> None:
    await append_events(engine, 10, start=T0)
    checkpoint_id = await sign_chain(engine, keys, T0)
    await execute_sql(engine, "UPDATE audit_record SET actor = 'someone_else' WHERE seq = 4")
    await _rehash_from(engine, 4)
    report = await verify_chain(engine, keys)
    assert report.chain_break is None  # the links were recomputed...
    assert report.checkpoint_problem is not None  # ...but the signed head no longer matches
    assert report.checkpoint_problem.checkpoint_id == checkpoint_id
    assert "rewritten" in report.checkpoint_problem.reason
    await append_events(engine, 1, start=T0 + timedelta(minutes=1))
    with pytest.raises(AuditChainBroken):
        async with unit_of_work(engine) as tx:
            await write_checkpoint(tx, key=keys.audit_signing_key, now=T0 + timedelta(hours=1))


async def test_deleted_row_mid_chain_is_named(engine: AsyncEngine, keys: KeyRing) -> None:
    await append_events(engine, 15, start=T0)
    await execute_sql(engine, "DELETE FROM audit_record WHERE seq = 9")
    report = await verify_chain(engine, keys)
    assert report.chain_break is not None
    assert report.chain_break.seq == 9
    assert "missing" in report.chain_break.reason


async def test_forged_checkpoint_signature_is_found(
    engine: AsyncEngine, keys: KeyRing, cli: CliTarget
) -> None:
    await append_events(engine, 5, start=T0)
    checkpoint_id = await sign_chain(engine, keys, T0)
    await execute_sql(
        engine,
        "UPDATE audit_checkpoint SET signature = :sig WHERE id = :id",
        sig="ab" * 64,
        id=checkpoint_id,
    )
    report = await verify_chain(engine, keys)
    assert report.checkpoint_problem is not None
    assert report.checkpoint_problem.checkpoint_id == checkpoint_id
    assert "signature" in report.checkpoint_problem.reason
    result = await run_cli(cli, "audit", "verify")
    assert result.exit_code == 1
    assert f"FAIL: checkpoint {checkpoint_id}" in result.stdout


async def test_checkpoint_claiming_a_later_head_finds_a_truncated_tail(
    engine: AsyncEngine, keys: KeyRing
) -> None:
    await append_events(engine, 10, start=T0)
    await sign_chain(engine, keys, T0)
    await execute_sql(engine, "DELETE FROM audit_record WHERE seq > 7")
    report = await verify_chain(engine, keys)
    assert report.checkpoint_problem is not None
    assert "missing" in report.checkpoint_problem.reason
    assert report.checkpoint_problem.head_seq == 10


async def test_cli_checkpoint_signs_and_refuses_a_broken_chain(
    engine: AsyncEngine, keys: KeyRing, cli: CliTarget
) -> None:
    await append_events(engine, 4, start=T0)
    signed = await run_cli(cli, "audit", "checkpoint")
    assert signed.exit_code == 0, signed.stderr
    assert "records 1..4" in signed.stdout
    again = await run_cli(cli, "audit", "checkpoint")
    assert again.exit_code == 0
    assert "nothing to sign" in again.stdout
    await append_events(engine, 2, start=T0 + timedelta(minutes=1))
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE audit_record SET reason = 'x' WHERE seq = 5"))
    refused = await run_cli(cli, "audit", "checkpoint")
    assert refused.exit_code == 1
    assert "record 5" in refused.stderr
