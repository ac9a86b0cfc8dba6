"""Erasure and export on the real stack and both backends: deletion is real (rows gone,
data key destroyed, room closed), provable (signed receipt) and blocked by a legal hold."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from livekit import api
from sqlmodel import col, select

from control_plane.audit.tables import AuditRecord
from control_plane.audit.verify import verify_audit
from control_plane.cli import main as cli_main
from control_plane.crypto.envelope import EnvelopeError, decrypt, unwrap_data_key
from control_plane.crypto.tables import SubjectDataKey
from control_plane.identity.tables import Subject
from control_plane.privacy.receipt import verify_receipt
from control_plane.privacy.tables import ErasureRequest, TranscriptSegment
from control_plane.privacy.types import REDACTED_FIELD
from control_plane.sessions.tables import VoiceSession
from control_plane.store.uow import unit_of_work
from tests.integration.privacy.support import (
    CANARIES,
    CANARY_SEGMENTS,
    bearer,
    browser_user,
    create_session,
    post_transcript,
    privacy_app,
    scan_database,
    worker_credential,
)
from tests.support.app import FrozenClock, RunningApp
from tests.support.harness import HarnessEnv

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


@pytest_asyncio.fixture
async def app(
    tmp_path: Path, database_url: str, harness_env: HarnessEnv, clock: FrozenClock
) -> AsyncIterator[RunningApp]:
    async with privacy_app(tmp_path, database_url, harness_env, clock) as running:
        yield running


async def _seed(app: RunningApp, headers: dict[str, str]) -> dict[str, Any]:
    session = await create_session(app, headers, with_agent=True)
    credential = await worker_credential(app, session["session_id"])
    stored = await post_transcript(app, session["session_id"], credential, CANARY_SEGMENTS)
    assert stored.status_code == 201
    return session


def _cli(argv: list[str]) -> int:
    try:
        cli_main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


async def _rooms(env: HarnessEnv) -> set[str]:
    async with api.LiveKitAPI(env.livekit_url, env.livekit_api_key, env.livekit_api_secret) as lk:
        return {r.name for r in (await lk.room.list_rooms(api.ListRoomsRequest())).rooms}


async def test_erasure_is_real_provable_and_leaves_the_audit_chain_intact(
    app: RunningApp,
    harness_env: HarnessEnv,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice = bearer(harness_env, "alice")
    session = await _seed(app, alice)
    subject_id = session["identity"]
    assert session["room"] in await _rooms(harness_env)
    # Export first: the caller's session, its redacted transcript, decisions about them.
    export = await app.client.get("/v1/me/data", headers=alice)
    assert export.status_code == 200
    document = export.json()
    [owned] = [s for s in document["sessions"] if s["id"] == session["session_id"]]
    assert owned["transcript"][0]["text"] == "Hi, this is <PERSON_1>."
    assert document["decisions"]
    assert all(c not in export.text for c in CANARIES)
    # A "backup" of the key row and a ciphertext, taken before the erasure.
    async with unit_of_work(app.state.engine) as tx:
        key_row = await tx.get(SubjectDataKey, subject_id)
        assert key_row is not None
        backup = key_row.model_copy()
        segment = (
            await tx.exec(
                select(TranscriptSegment).where(
                    TranscriptSegment.session_id == session["session_id"]
                )
            )
        ).first()
        assert segment is not None
        ciphertext, segment_id = segment.redacted_ct, segment.id

    erased = await app.client.delete("/v1/me/data", headers=alice)
    assert erased.status_code == 200, erased.text
    receipt = erased.json()
    assert receipt["subject"] == subject_id
    assert receipt["key_destroyed"] is True
    assert receipt["counts"]["transcript_segment"] == 4
    assert receipt["counts"]["voice_session"] == 1
    assert receipt["counts"]["subject"] == 1
    assert receipt["counts"]["subject_data_key"] == 1
    assert receipt["live_participation"]["sessions_ended"] == 1
    assert verify_receipt(receipt, app.state.keys.receipt_public_key) is None
    for field, value in (
        ("counts", {"transcript_segment": 0}),
        ("subject", "sub_x"),
        ("key_destroyed", False),
        ("completed_at", "2020-01-01T00:00:00Z"),
    ):
        tampered = copy.deepcopy(receipt)
        tampered[field] = value
        assert verify_receipt(tampered, app.state.keys.receipt_public_key) is not None
    # The CLI checks the same, against the published key.
    key = (await app.client.get("/v1/privacy/receipt-key", headers=alice)).json()
    key_file = tmp_path / "receipt.pub"
    key_file.write_text(key["public_key"])
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(receipt))
    bad.write_text(json.dumps({**receipt, "counts": {}}))
    assert _cli(["privacy", "verify-receipt", str(good), "--public-key", str(key_file)]) == 0
    assert _cli(["privacy", "verify-receipt", str(bad), "--public-key", str(key_file)]) == 1
    # Gone: rows, key, room. The ciphertext "backup" is useless without the key row.
    async with unit_of_work(app.state.engine) as tx:
        assert await tx.get(Subject, subject_id) is None
        assert await tx.get(SubjectDataKey, subject_id) is None
        assert await tx.get(VoiceSession, session["session_id"]) is None
        left = await tx.exec(
            select(TranscriptSegment).where(TranscriptSegment.subject_id == subject_id)
        )
        assert left.all() == []
        report = await verify_audit(tx, public_key=app.state.keys.audit_public_key)
        assert report.is_intact, report
        erased_record = (
            await tx.exec(select(AuditRecord).where(col(AuditRecord.seq) == receipt["audit_seq"]))
        ).one()
        assert erased_record.event_type == "privacy.erased"
        assert erased_record.target == subject_id
    for _ in range(100):  # the remediation executor runs right after the commit
        if session["room"] not in await _rooms(harness_env):
            break
        await asyncio.sleep(0.05)
    assert session["room"] not in await _rooms(harness_env)
    assert scan_database(database_url) == []
    # The KEK alone recovers nothing: the wrapped key is gone from the store. Only a copy
    # taken before the erasure could be unwrapped (see the KEK rotation test for that).
    with pytest.raises(EnvelopeError):
        unwrap_data_key(app.state.keys.kek, backup.wrapped_key, subject_id="sub_someone_else")
    restored = unwrap_data_key(app.state.keys.kek, backup.wrapped_key, subject_id=subject_id)
    assert b"<PERSON_1>" in decrypt(
        restored, ciphertext, table=REDACTED_FIELD, record_id=segment_id
    )
    # After erasure, the export is empty, even though the pseudonym is recomputed at login.
    again = await app.client.get("/v1/me/data", headers=alice)
    assert again.status_code == 200
    assert again.json()["subject"] is None
    assert again.json()["sessions"] == []
    assert again.json()["decisions"] == []
    logs = capsys.readouterr()
    assert all(c not in logs.out + logs.err for c in CANARIES)


async def test_legal_hold_blocks_erasure_and_is_admin_only(
    app: RunningApp, harness_env: HarnessEnv
) -> None:
    alice = bearer(harness_env, "alice")
    session = await _seed(app, alice)
    subject_id = session["identity"]
    path = f"/v1/subjects/{subject_id}/legal-hold"
    assert (await app.client.put(path, headers=alice)).status_code == 403
    assert (await app.client.put(path, headers=bearer(harness_env, "adam"))).status_code == 403
    async with browser_user(app, harness_env, "adam") as (console, csrf):
        await _hold_and_release(app, console, csrf, alice, session)


async def _hold_and_release(
    app: RunningApp,
    console: httpx.AsyncClient,
    csrf: dict[str, str],
    alice: dict[str, str],
    session: dict[str, Any],
) -> None:
    subject_id = session["identity"]
    path = f"/v1/subjects/{subject_id}/legal-hold"
    held = await console.put(path, headers=csrf)
    assert held.status_code == 200
    assert held.json() == {"kind": "subject", "id": subject_id, "legal_hold": True}
    blocked = await app.client.delete("/v1/me/data", headers=alice)
    assert blocked.status_code == 409
    assert blocked.json()["error"] == "erasure_blocked_legal_hold"
    assert "legal hold" in blocked.json()["detail"]
    async with unit_of_work(app.state.engine) as tx:
        assert await tx.get(Subject, subject_id) is not None  # nothing was deleted
        requests = (
            await tx.exec(select(ErasureRequest).where(ErasureRequest.subject_id == subject_id))
        ).all()
        assert [r.status for r in requests] == ["blocked"]
        events = (
            await tx.exec(select(AuditRecord.event_type).where(AuditRecord.target == subject_id))
        ).all()
        assert "privacy.erasure_blocked" in events
        assert "privacy.legal_hold" in events
    # A held session blocks it too; lifting both lets the erasure through.
    assert (await console.delete(path, headers=csrf)).status_code == 200
    session_hold = f"/v1/sessions/{session['session_id']}/legal-hold"
    assert (await console.put(session_hold, headers=csrf)).status_code == 200
    assert (await app.client.delete("/v1/me/data", headers=alice)).status_code == 409
    assert (await console.delete(session_hold, headers=csrf)).status_code == 200
    assert (await app.client.delete("/v1/me/data", headers=alice)).status_code == 200


async def test_admin_erasure_needs_mfa_and_auditors_see_status_only(
    app: RunningApp, harness_env: HarnessEnv
) -> None:
    carol = bearer(harness_env, "carol")
    session = await _seed(app, carol)
    subject_id = session["identity"]
    path = f"/v1/subjects/{subject_id}/data"
    assert (await app.client.delete(path, headers=bearer(harness_env, "alice"))).status_code == 403
    no_mfa = await app.client.delete(path, headers=bearer(harness_env, "adam"))
    assert no_mfa.status_code == 403
    async with browser_user(app, harness_env, "adam") as (console, csrf):
        done = await console.delete(path, headers=csrf)
        assert done.status_code == 200, done.text
        assert done.json()["subject"] == subject_id
        assert done.json()["requested_by"] != subject_id
        assert verify_receipt(done.json(), app.state.keys.receipt_public_key) is None
        assert (await console.delete(path, headers=csrf)).status_code == 404
    listing = await app.client.get("/v1/privacy/erasures", headers=bearer(harness_env, "audrey"))
    assert listing.status_code == 200
    [entry] = [e for e in listing.json() if e["subject_id"] == subject_id]
    assert entry["status"] == "completed"
    assert entry["counts"]["transcript_segment"] == 4
    assert set(entry) == {
        "id",
        "subject_id",
        "requested_by",
        "status",
        "reason",
        "requested_at",
        "completed_at",
        "counts",
        "receipt_key_id",
    }
    assert all(c not in listing.text for c in CANARIES)
    member = await app.client.get("/v1/privacy/erasures", headers=bearer(harness_env, "alice"))
    assert member.status_code == 403
