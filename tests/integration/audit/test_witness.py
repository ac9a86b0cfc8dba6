"""The witness file on both backends: every checkpoint is copied outside the database, and
a tail cut back together with its checkpoints (which the chain alone cannot show) is named;
a malformed or forged witness line is a finding, never a crash."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.audit import witness
from control_plane.audit.jobs import run_checkpoint_step
from control_plane.audit.verify import verify_audit
from control_plane.config import AuditSettings
from control_plane.crypto.keyring import KeyRing
from control_plane.store.uow import unit_of_work
from tests.support.audit import CliTarget, append_events, execute_sql, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _witness_file(cli: CliTarget) -> Path:
    return cli.var_dir / "audit-witness.jsonl"  # the default under the var folder


async def _signed_twice(engine: AsyncEngine, cli: CliTarget) -> None:
    await append_events(engine, 5, start=T0)
    assert (await run_cli(cli, "audit", "checkpoint")).exit_code == 0
    await append_events(engine, 5, start=T0 + timedelta(minutes=1))
    assert (await run_cli(cli, "audit", "checkpoint")).exit_code == 0


async def test_cli_checkpoints_are_witnessed_and_verify_checks_each(
    engine: AsyncEngine, keys: KeyRing, cli: CliTarget
) -> None:
    await _signed_twice(engine, cli)
    path = _witness_file(cli)
    assert os.stat(path).st_mode & 0o777 == 0o600
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(w["id"], w["head_seq"]) for w in lines] == [(1, 5), (2, 10)]
    verified = await run_cli(cli, "audit", "verify")
    assert verified.exit_code == 0, verified.stdout
    assert "2 checkpoints, 2 witnessed" in verified.stdout


async def test_a_tail_cut_with_its_checkpoint_is_invisible_to_the_chain_but_not_the_witness(
    engine: AsyncEngine, keys: KeyRing, cli: CliTarget
) -> None:
    await _signed_twice(engine, cli)
    # A database writer without the signing key drops the newest checkpoint and the
    # records it covered, then the chain goes on from record 5 as if nothing happened.
    await execute_sql(engine, "DELETE FROM audit_checkpoint WHERE id = 2")
    await execute_sql(engine, "DELETE FROM audit_record WHERE seq > 5")
    await append_events(engine, 2, start=T0 + timedelta(minutes=2))
    async with unit_of_work(engine) as tx:
        chain_only = await verify_audit(tx, public_key=keys.audit_public_key)
    assert chain_only.is_intact  # what the database alone can show
    result = await run_cli(cli, "audit", "verify")
    assert result.exit_code == 1
    assert "FAIL: witness checkpoint 2 (line 2)" in result.stdout
    assert "gone from the database" in result.stdout


async def test_records_cut_under_a_witnessed_checkpoint_are_named(
    engine: AsyncEngine, keys: KeyRing, cli: CliTarget
) -> None:
    await append_events(engine, 5, start=T0)
    assert (await run_cli(cli, "audit", "checkpoint")).exit_code == 0
    await execute_sql(engine, "DELETE FROM audit_record WHERE seq > 3")
    result = await run_cli(cli, "audit", "verify")
    assert result.exit_code == 1
    assert "record 5, the head it signed, is missing" in result.stdout


@pytest.mark.parametrize(
    ("line", "finding"),
    [
        ("not json", "line 2: not JSON"),
        ("[1, 2]", "line 2: not an object"),
        ('{"id": 1}', "line 2: not a checkpoint"),
        ('{"id": true, "ts": 1}', "line 2: not a checkpoint"),
        ("x" * 5000, "line 2: too long"),
    ],
)
async def test_a_malformed_witness_line_is_a_finding(
    engine: AsyncEngine, keys: KeyRing, cli: CliTarget, line: str, finding: str
) -> None:
    await append_events(engine, 2, start=T0)
    assert (await run_cli(cli, "audit", "checkpoint")).exit_code == 0
    with _witness_file(cli).open("a") as handle:
        handle.write(line + "\n")
    result = await run_cli(cli, "audit", "verify")
    assert result.exit_code == 1, result.stdout
    assert finding in result.stdout
    assert "Traceback" not in result.stderr


async def test_a_forged_witness_line_does_not_verify(
    engine: AsyncEngine, keys: KeyRing, cli: CliTarget
) -> None:
    await append_events(engine, 3, start=T0)
    assert (await run_cli(cli, "audit", "checkpoint")).exit_code == 0
    path = _witness_file(cli)
    copy = json.loads(path.read_text())
    path.write_text(json.dumps({**copy, "head_hash": "0" * 64}) + "\n")
    result = await run_cli(cli, "audit", "verify")
    assert result.exit_code == 1
    assert "does not verify with a trusted key" in result.stdout


async def test_the_checkpoint_job_witnesses_what_it_signs(
    engine: AsyncEngine, keys: KeyRing, tmp_path: Path
) -> None:
    await append_events(engine, 4, start=T0)
    path = tmp_path / "witness" / "w.jsonl"
    written = await run_checkpoint_step(
        engine,
        key=keys.audit_signing_key,
        settings=AuditSettings(),
        now=T0 + timedelta(minutes=1),
        witness_file=path,
    )
    assert written is not None
    assert [json.loads(line)["id"] for line in path.read_text().splitlines()] == [written.id]


async def test_a_long_witness_file_is_checked_in_batches_naming_the_file_line(
    engine: AsyncEngine, keys: KeyRing, cli: CliTarget
) -> None:
    path = _witness_file(cli)
    for n in range(5):
        await append_events(engine, 2, start=T0 + timedelta(minutes=n))
        written = await run_checkpoint_step(
            engine,
            key=keys.audit_signing_key,
            settings=AuditSettings(checkpoint_every_records=1),
            now=T0 + timedelta(minutes=n, seconds=30),
            witness_file=path,
        )
        assert written is not None
        if n == 1:
            with path.open("a") as handle:
                handle.write("\n")  # a blank line is skipped, not miscounted
    pauses = 0

    async def pace() -> None:
        nonlocal pauses
        pauses += 1

    public_keys = keys.audit_verification_keys
    report = await witness.verify_witnessed(
        engine, public_keys=public_keys, witness_file=path, pace=pace, batch=2
    )
    assert report.is_intact
    assert report.witnessed_checked == 5
    assert pauses == 3  # 5 witnessed checkpoints, 2 per read transaction
    await execute_sql(engine, "DELETE FROM audit_checkpoint WHERE id = 4")
    report = await witness.verify_witnessed(
        engine, public_keys=public_keys, witness_file=path, batch=2
    )
    assert report.witness_problem is not None
    assert (report.witness_problem.checkpoint_id, report.witness_problem.line) == (4, 5)


async def test_a_witness_file_that_cannot_be_written_keeps_the_checkpoint(
    engine: AsyncEngine, keys: KeyRing, tmp_path: Path
) -> None:
    await append_events(engine, 2, start=T0)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the witness folder should be\n")
    written = await run_checkpoint_step(
        engine,
        key=keys.audit_signing_key,
        settings=AuditSettings(),
        now=T0 + timedelta(minutes=1),
        witness_file=blocker / "w.jsonl",
    )
    assert written is not None  # committed; the failure is logged, the next one is witnessed
    async with unit_of_work(engine) as tx:
        assert (await verify_audit(tx, public_key=keys.audit_public_key)).is_intact
