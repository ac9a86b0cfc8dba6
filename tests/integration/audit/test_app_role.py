"""On the real PostgreSQL, the service's own role cannot rewrite the audit chain: UPDATE,
DELETE and TRUNCATE of ``audit_record`` (and ``audit_checkpoint``) are refused, while
appending, checkpointing, ordinary tables and retention purges keep working (T-AUD-5).
PostgreSQL only: SQLite has no roles (the embedded mode is one process, one user)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import pytest_asyncio
from psycopg import sql
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.audit.retention import purge_audit_records
from control_plane.crypto.keyring import KeyRing
from control_plane.store.engine import create_engine
from control_plane.store.migrate import grant_app_role_sync
from control_plane.store.roles import PURGE_FUNCTION
from control_plane.store.uow import unit_of_work
from tests.support.app import create_pg_database, drop_pg_database
from tests.support.audit import append_events, sign_chain, verify_chain
from tests.support.harness import HarnessEnv

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REWRITES = (
    "UPDATE audit_record SET reason = 'rewritten' WHERE seq = 2",
    "DELETE FROM audit_record WHERE seq = 2",
    "TRUNCATE audit_record",
    "UPDATE audit_checkpoint SET head_seq = 1",
    "DELETE FROM audit_checkpoint",
    "TRUNCATE audit_checkpoint",
)


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def app_role_url(pg_template: HarnessEnv) -> Iterator[str]:
    """A fresh migrated database and a uniquely named login granted as the service role;
    yields the service's URL. The database goes first (the grants live in it), then the
    role."""
    owner_url = create_pg_database(pg_template)
    role, password = f"cp_app_{secrets.token_hex(6)}", secrets.token_urlsafe(24)
    try:
        with psycopg.connect(_dsn(owner_url), autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
        grant_app_role_sync(owner_url, role)
        url = make_url(owner_url).set(username=role, password=password)
        yield url.render_as_string(hide_password=False)
    finally:
        drop_pg_database(pg_template, owner_url)
        with psycopg.connect(_dsn(owner_url).rpartition("/")[0] + "/postgres") as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            conn.commit()


@pytest_asyncio.fixture
async def app_engine(app_role_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(app_role_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _refused(engine: AsyncEngine, statement: str) -> str:
    with pytest.raises(DBAPIError) as caught:
        async with unit_of_work(engine) as tx:
            await (await tx.connection()).execute(text(statement))
    return str(caught.value.orig)


async def test_the_app_role_cannot_rewrite_the_chain(
    app_engine: AsyncEngine, keys: KeyRing
) -> None:
    await append_events(app_engine, 5, start=T0)
    await sign_chain(app_engine, keys, T0 + timedelta(minutes=1))
    for statement in REWRITES:
        assert "permission denied" in await _refused(app_engine, statement), statement
    # Nor can it replace the purge function with one that deletes anything.
    replaced = await _refused(
        app_engine,
        f"CREATE OR REPLACE FUNCTION {PURGE_FUNCTION}(through_seq bigint) RETURNS bigint "
        "LANGUAGE sql AS 'SELECT 0::bigint'",
    )
    assert "must be owner" in replaced or "permission denied" in replaced
    # Ordinary tables stay writable: the role is the service's, not a read-only one.
    async with unit_of_work(app_engine) as tx:
        await (await tx.connection()).execute(text("DELETE FROM pending_login"))
    report = await verify_chain(app_engine, keys)
    assert report.is_intact, report
    assert report.head_seq == 5


async def test_the_purge_function_removes_only_a_vouched_checkpoint_covered_prefix(
    app_engine: AsyncEngine, keys: KeyRing
) -> None:
    await append_events(app_engine, 10, start=T0, step=timedelta(days=1))
    # No checkpoint yet: a direct call is refused, nothing goes.
    refused = await _refused(app_engine, f"SELECT {PURGE_FUNCTION}(3)")
    assert "not covered by a checkpoint" in refused
    await sign_chain(app_engine, keys, T0 + timedelta(days=10))
    # Covered, but no retention.purged record vouches for the new start: refused.
    refused = await _refused(app_engine, f"SELECT {PURGE_FUNCTION}(3)")
    assert "without a retention.purged record" in refused
    # Retention, under the app role, goes through the function and verification holds.
    async with unit_of_work(app_engine) as tx:
        purge = await purge_audit_records(
            tx, before=T0 + timedelta(days=6), now=T0 + timedelta(days=10)
        )
    assert purge is not None
    assert (purge.count, purge.through_seq, purge.record_seq) == (6, 6, 11)
    report = await verify_chain(app_engine, keys)
    assert report.is_intact, report
    assert (report.first_seq, report.head_seq, report.anchor) == (7, 11, "retention")
