"""Rotating the audit signing key on both backends: the retired key's checkpoints keep
verifying, a checkpoint it signs after its successor has signed is refused, and a key
nobody listed is unknown."""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from control_plane.audit.tables import AuditRecord
from control_plane.config import KeySettings
from control_plane.crypto.keyring import (
    PREVIOUS_AUDIT_KEYS_FILE,
    KeyRing,
    load_key_ring,
    public_key_id,
    public_key_text,
)
from control_plane.store.uow import unit_of_work
from tests.support.audit import CliTarget, append_events, run_cli, sign_chain, verify_chain

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _reload(cli: CliTarget) -> KeyRing:
    return load_key_ring(KeySettings(), cli.key_dir, is_development=True)


async def test_rotation_keeps_old_checkpoints_verifying_and_signs_with_the_new_key(
    engine: AsyncEngine, keys: KeyRing, cli: CliTarget
) -> None:
    await append_events(engine, 5, start=T0)
    old_id = public_key_id(keys.audit_public_key)
    rotated = await run_cli(cli, "keys", "rotate-audit-key")
    assert rotated.exit_code == 0, rotated.stderr
    assert "restart the server" in rotated.stdout
    new_keys = _reload(cli)
    assert public_key_id(new_keys.audit_public_key) != old_id
    assert [public_key_id(k) for k in new_keys.previous_audit_public_keys] == [old_id]
    assert os.stat(cli.key_dir / "audit_signing_key").st_mode & 0o777 == 0o600
    assert (cli.key_dir / PREVIOUS_AUDIT_KEYS_FILE).read_text().strip() == public_key_text(
        keys.audit_public_key
    )
    await append_events(engine, 3, start=T0 + timedelta(minutes=1))
    await sign_chain(engine, new_keys, T0 + timedelta(minutes=2))
    report = await verify_chain(engine, new_keys)
    assert report.is_intact, report
    assert report.checkpoints_checked == 2
    verified = await run_cli(cli, "audit", "verify")
    assert verified.exit_code == 0, verified.stdout
    # Without the retired key, its checkpoint is unknown.
    report = await verify_chain(
        engine, dataclasses.replace(new_keys, previous_audit_public_keys=())
    )
    assert report.checkpoint_problem is not None
    assert report.checkpoint_problem.reason == "signed by an unknown key"


async def test_a_retired_key_cannot_vouch_after_its_successor_signed(
    engine: AsyncEngine, keys: KeyRing, cli: CliTarget
) -> None:
    await append_events(engine, 3, start=T0)
    assert (await run_cli(cli, "keys", "rotate-audit-key")).exit_code == 0
    new_keys = _reload(cli)
    await append_events(engine, 2, start=T0 + timedelta(minutes=1))
    await sign_chain(engine, new_keys, T0 + timedelta(minutes=2))
    # Someone holding the retired private key signs the chain again.
    await append_events(engine, 2, start=T0 + timedelta(minutes=3))
    forged = await sign_chain(engine, keys, T0 + timedelta(minutes=4))
    report = await verify_chain(engine, new_keys)
    assert report.checkpoint_problem is not None
    assert report.checkpoint_problem.checkpoint_id == forged
    assert "retired key" in report.checkpoint_problem.reason
    result = await run_cli(cli, "audit", "verify")
    assert result.exit_code == 1
    assert f"FAIL: checkpoint {forged}" in result.stdout


async def test_rotation_is_audited_and_refused_when_the_key_comes_from_settings(
    engine: AsyncEngine, keys: KeyRing, cli: CliTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    await append_events(engine, 2, start=T0)
    assert (await run_cli(cli, "keys", "rotate-audit-key")).exit_code == 0
    async with unit_of_work(engine) as tx:
        records = (
            await tx.exec(
                select(AuditRecord).where(col(AuditRecord.event_type) == "crypto.key_rotated")
            )
        ).all()
    assert [(r.details["previous_key_id"], r.details["key_id"]) for r in records] == [
        (public_key_id(keys.audit_public_key), public_key_id(_reload(cli).audit_public_key))
    ]
    monkeypatch.setenv("CONTROL_PLANE_KEYS__AUDIT_SIGNING_KEY", "ab" * 32)
    refused = await run_cli(cli, "keys", "rotate-audit-key")
    monkeypatch.delenv("CONTROL_PLANE_KEYS__AUDIT_SIGNING_KEY")
    assert refused.exit_code == 2
    assert "rotate by settings" in refused.stderr
    shown = await run_cli(cli, "keys", "audit-public-key")
    assert shown.exit_code == 0
    text, key_id = shown.stdout.split()
    assert key_id == public_key_id(_reload(cli).audit_public_key)
    assert text == public_key_text(_reload(cli).audit_public_key)
