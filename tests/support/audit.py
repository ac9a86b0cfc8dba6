"""Typed factories for audit tests: events, bulk appends and raw SQL tampering."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.audit.service import append_audit, write_checkpoint
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.audit.verify import VerifyReport, verify_audit
from control_plane.crypto.keyring import KeyRing
from control_plane.store.uow import unit_of_work
from tests.support.app import REPO


def make_event(
    reason: str = "test",
    *,
    actor: str | None = "sub_test",
    tenant: str | None = "acme",
    event_type: AuditEventType = AuditEventType.SESSION_CREATED,
    outcome: Outcome = Outcome.SUCCESS,
) -> AuditEvent:
    details: dict[str, object] = {"n": reason}
    if event_type is AuditEventType.DECISION:
        details["action"] = "join"
    return AuditEvent(
        type=event_type,
        outcome=outcome,
        actor=actor,
        target="ses_test",
        reason=reason,
        request_id="req-test",
        details=details,
        tenant=tenant,
    )


async def append_events(
    engine: AsyncEngine,
    count: int,
    *,
    start: datetime,
    step: timedelta = timedelta(seconds=1),
    tenant: str | None = "acme",
    actor: str | None = "sub_test",
) -> None:
    """``count`` records, one transaction each, ``step`` apart from ``start``."""
    for i in range(count):
        async with unit_of_work(engine) as tx:
            await append_audit(
                tx,
                event=make_event(f"event {i}", tenant=tenant, actor=actor),
                now=start + step * i,
            )


async def verify_chain(engine: AsyncEngine, keys: KeyRing) -> VerifyReport:
    """The whole chain verified in one transaction with the ring's trusted keys."""
    async with unit_of_work(engine) as tx:
        return await verify_audit(
            tx,
            public_key=keys.audit_public_key,
            previous_public_keys=keys.previous_audit_public_keys,
        )


async def sign_chain(engine: AsyncEngine, keys: KeyRing, now: datetime) -> int:
    """A checkpoint over the chain as it is, signed with the ring's key; its id."""
    async with unit_of_work(engine) as tx:
        written = await write_checkpoint(tx, key=keys.audit_signing_key, now=now)
    assert written is not None
    assert written.id is not None
    return written.id


async def fail_audit_inserts(engine: AsyncEngine) -> None:
    """From now on every audit record insert fails ("audit store down"), on either backend."""
    async with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            await connection.execute(
                text(
                    "CREATE TRIGGER audit_down BEFORE INSERT ON audit_record "
                    "BEGIN SELECT RAISE(ABORT, 'audit store down'); END"
                )
            )
            return
        await connection.execute(
            text(
                "CREATE FUNCTION audit_down() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'audit store down'; END $$ LANGUAGE plpgsql"
            )
        )
        await connection.execute(
            text(
                "CREATE TRIGGER audit_down BEFORE INSERT ON audit_record "
                "FOR EACH ROW EXECUTE FUNCTION audit_down()"
            )
        )


async def execute_sql(engine: AsyncEngine, sql: str, **params: object) -> None:
    """Tamper with the database directly, as an attacker with SQL access would."""
    async with engine.begin() as connection:
        await connection.execute(text(sql), params)


@dataclass(frozen=True)
class CliTarget:
    """The database and folders a CLI run works on."""

    database_url: str
    key_dir: Path
    var_dir: Path


async def run_cli(target: CliTarget, *args: str) -> CliResult:
    """Run ``python -m control_plane ARGS`` against the target's database and keys."""
    env = {
        **os.environ,
        "CONTROL_PLANE_DATABASE__URL": target.database_url,
        "CONTROL_PLANE_KEYS__DIR": str(target.key_dir),
        "CONTROL_PLANE_SERVER__VAR_DIR": str(target.var_dir),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "control_plane",
        *args,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    return CliResult(int(process.returncode or 0), stdout.decode(), stderr.decode())


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str
