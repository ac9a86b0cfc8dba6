"""The chain stays linear under concurrent writers on two engines: two replicas on
PostgreSQL; on SQLite, the server plus a second process (the CLI) on the same file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from control_plane.audit.chain import GENESIS_HASH, find_break
from control_plane.audit.service import append_audit
from control_plane.audit.tables import AuditRecord
from control_plane.store.engine import create_engine
from control_plane.store.uow import unit_of_work
from tests.support.audit import make_event

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

WRITERS = 8
APPENDS = 50


async def test_concurrent_writers_keep_one_linear_chain(audit_db: str) -> None:
    replicas = 2
    engines = [create_engine(audit_db) for _ in range(replicas)]
    start = datetime(2026, 1, 1, tzinfo=UTC)

    async def writer(index: int) -> None:
        engine = engines[index % replicas]
        for i in range(APPENDS):
            async with unit_of_work(engine) as tx:
                await append_audit(
                    tx,
                    event=make_event(f"w{index}-{i}", actor=f"writer-{index}"),
                    now=start + timedelta(milliseconds=i),
                )

    try:
        await asyncio.gather(*(writer(w) for w in range(WRITERS)))
        async with engines[0].connect() as connection:
            rows = (
                (
                    await connection.execute(
                        select(AuditRecord.__table__).order_by(AuditRecord.__table__.c.seq)  # type: ignore[attr-defined]
                    )
                )
                .mappings()
                .all()
            )
    finally:
        for engine in engines:
            await engine.dispose()
    assert [r["seq"] for r in rows] == list(range(1, WRITERS * APPENDS + 1))
    assert find_break(rows, start_hash=GENESIS_HASH, start_seq=0) is None
    assert len({r["prev_hash"] for r in rows}) == len(rows)  # no two records share a parent
    for index in range(WRITERS):
        mine = [r["reason"] for r in rows if r["actor"] == f"writer-{index}"]
        assert mine == [f"w{index}-{i}" for i in range(APPENDS)]
