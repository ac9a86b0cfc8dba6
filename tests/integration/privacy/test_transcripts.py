"""Transcript intake on the real stack (IdP, LiveKit, Cedar, Presidio) and both backends:
only redacted text is stored, encrypted; every bad worker bearer is refused."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
import pytest_asyncio
from sqlalchemy import update
from sqlmodel import col, select

from control_plane.agents.tables import WorkerCredential
from control_plane.audit.tables import AuditRecord
from control_plane.crypto.envelope import decrypt
from control_plane.crypto.service import find_data_key
from control_plane.privacy.finalize import finalize_session
from control_plane.privacy.redaction import RedactionResult
from control_plane.privacy.tables import TranscriptSegment, TranscriptSession
from control_plane.privacy.types import RAW_FIELD, REDACTED_FIELD
from control_plane.store.uow import unit_of_work
from tests.integration.privacy.support import (
    CANARIES,
    CANARY_SEGMENTS,
    bearer,
    create_session,
    post_transcript,
    privacy_app,
    scan_database,
    set_retention_class,
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


async def _stored_texts(app: RunningApp, session_id: str) -> list[tuple[str, str | None]]:
    async with unit_of_work(app.state.engine) as tx:
        rows = (
            await tx.exec(
                select(TranscriptSegment)
                .where(TranscriptSegment.session_id == session_id)
                .order_by(TranscriptSegment.seq)  # type: ignore[arg-type]
            )
        ).all()
        if not rows:
            return []
        key = await find_data_key(tx, keys=app.state.keys, subject_id=rows[0].subject_id)
        assert key is not None
        return [
            (
                decrypt(key, r.redacted_ct, table=REDACTED_FIELD, record_id=r.id).decode(),
                decrypt(key, r.raw_ct, table=RAW_FIELD, record_id=r.id).decode()
                if r.raw_ct
                else None,
            )
            for r in rows
        ]


async def test_only_redacted_text_is_stored_encrypted_with_session_placeholders(
    app: RunningApp,
    harness_env: HarnessEnv,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = await create_session(app, bearer(harness_env, "alice"), with_agent=True)
    sid = session["session_id"]
    credential = await worker_credential(app, sid)
    response = await post_transcript(app, sid, credential, CANARY_SEGMENTS)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["stored"] == 4
    assert body["text_stored"] is True
    assert body["entity_counts"]["PERSON"] >= 2
    assert {"PHONE_NUMBER", "EMAIL_ADDRESS", "CREDIT_CARD"} <= set(body["entity_counts"])
    texts = [redacted for redacted, raw in await _stored_texts(app, sid)]
    assert texts[0] == "Hi, this is <PERSON_1>."
    assert texts[3].endswith("again I am <PERSON_1>.")  # the same person, the same placeholder
    assert "<CREDIT_CARD_1>" in texts[3]
    assert "<EMAIL_ADDRESS_1>" in texts[2]
    # A later batch continues the numbering of the session.
    more = [
        {
            "role": "user",
            "text": "Zebulon Quarterfield again, hi Maria Garcia",
            "start_ms": 7000,
            "end_ms": 8000,
            "final": True,
        }
    ]
    assert (await post_transcript(app, sid, credential, more)).status_code == 201
    last = (await _stored_texts(app, sid))[-1][0]
    assert last.startswith("<PERSON_1> again")
    assert "<PERSON_2>" in last
    for canary in CANARIES:
        assert all(canary not in t for t in texts)
    assert scan_database(database_url) == []
    logs = capsys.readouterr()
    for canary in CANARIES:
        assert canary not in logs.out
        assert canary not in logs.err
        assert canary not in caplog.text


async def test_raw_text_kept_only_when_asked_and_destroyed_at_finalisation(
    app: RunningApp, harness_env: HarnessEnv, database_url: str
) -> None:
    headers = bearer(harness_env, "alice")
    plain = await create_session(app, headers)
    asks = await create_session(app, headers)
    await set_retention_class(app, asks["session_id"], "keep_raw")
    for sid in (plain["session_id"], asks["session_id"]):
        credential = await worker_credential(app, sid)
        assert (await post_transcript(app, sid, credential, CANARY_SEGMENTS)).status_code == 201
    assert all(raw is None for _, raw in await _stored_texts(app, plain["session_id"]))
    kept = await _stored_texts(app, asks["session_id"])
    assert kept[0][1] == CANARY_SEGMENTS[0]["text"]  # decryptable with the key only
    assert scan_database(database_url) == []
    async with unit_of_work(app.state.engine) as tx:
        report = await finalize_session(
            tx,
            keys=app.state.keys,
            redactor=app.state.redactor,
            session_id=asks["session_id"],
            reason="room_finished",
            now=app.state.clock(),
        )
    assert report.raw_destroyed == 4
    # Its worker credentials are revoked (by the end of the session or by the pass).
    late = await post_transcript(app, asks["session_id"], credential, CANARY_SEGMENTS[:1])
    assert late.status_code == 401
    assert all(raw is None for _, raw in await _stored_texts(app, asks["session_id"]))


async def test_finalisation_redacts_pii_split_across_segments(
    app: RunningApp, harness_env: HarnessEnv
) -> None:
    session = await create_session(app, bearer(harness_env, "alice"))
    sid = session["session_id"]
    credential = await worker_credential(app, sid)
    split = [
        {
            "role": "user",
            "text": "my card number is 4111 1111",
            "start_ms": 0,
            "end_ms": 1,
            "final": True,
        },
        {"role": "agent", "text": "go on", "start_ms": 2, "end_ms": 3, "final": True},
        {"role": "user", "text": "1111 1111 thanks", "start_ms": 4, "end_ms": 5, "final": True},
    ]
    assert (await post_transcript(app, sid, credential, split)).status_code == 201
    before = [t for t, _ in await _stored_texts(app, sid)]
    assert "4111 1111" in before[0]  # per segment, half a card is not a card
    async with unit_of_work(app.state.engine) as tx:
        report = await finalize_session(
            tx,
            keys=app.state.keys,
            redactor=app.state.redactor,
            session_id=sid,
            reason="room_finished",
            now=app.state.clock(),
        )
    after = [t for t, _ in await _stored_texts(app, sid)]
    assert "4111" not in after[0], after
    assert "1111" not in after[2], after
    assert after[1] == "go on"
    assert report.new_counts
    assert report.rewritten == 2
    # Finalised: the worker's credential is revoked, the transcript is closed.
    late = await post_transcript(app, sid, credential, split[:1])
    assert late.status_code == 401


async def test_no_storage_sessions_keep_counts_only(
    app: RunningApp, harness_env: HarnessEnv
) -> None:
    session = await create_session(app, bearer(harness_env, "alice"), no_storage=True)
    sid = session["session_id"]
    credential = await worker_credential(app, sid)
    response = await post_transcript(app, sid, credential, CANARY_SEGMENTS)
    assert response.status_code == 201
    assert response.json()["stored"] == 0
    assert response.json()["text_stored"] is False
    assert await _stored_texts(app, sid) == []
    async with unit_of_work(app.state.engine) as tx:
        state = await tx.get(TranscriptSession, sid)
        assert state is not None
        assert state.placeholder_ct is None
        assert state.entity_counts["PERSON"] >= 2
        assert state.segments_received == 4


async def test_non_final_segments_are_ignored(app: RunningApp, harness_env: HarnessEnv) -> None:
    session = await create_session(app, bearer(harness_env, "alice"))
    sid = session["session_id"]
    credential = await worker_credential(app, sid)
    segments = [dict(CANARY_SEGMENTS[0], final=False), CANARY_SEGMENTS[1]]
    response = await post_transcript(app, sid, credential, segments)
    assert response.status_code == 201
    assert response.json()["ignored_non_final"] == 1
    assert response.json()["stored"] == 1
    assert [t for t, _ in await _stored_texts(app, sid)] == ["Hello! How can I help?"]


async def test_bad_input_is_refused_without_echo(app: RunningApp, harness_env: HarnessEnv) -> None:
    session = await create_session(app, bearer(harness_env, "alice"))
    sid = session["session_id"]
    credential = await worker_credential(app, sid)
    ok = CANARY_SEGMENTS[0]
    bodies = {
        "too many": [ok] * 51,
        "too long": [dict(ok, text=f"{ok['text']}{'x' * 4096}")],
        "multibyte too long": [dict(ok, text="é" * 2049)],
        "lone surrogate": [dict(ok, text="Zebulon Quarterfield \ud800")],
        "string offsets": [dict(ok, start_ms="0")],
        "bad role": [dict(ok, role="system")],
        "end before start": [dict(ok, start_ms=10, end_ms=5)],
        "empty": [],
    }
    for name, segments in bodies.items():
        response = await post_transcript(app, sid, credential, segments)
        assert response.status_code == 422, (name, response.status_code)
        assert "Zebulon" not in response.text
        assert "Quarterfield" not in response.text
    invalid_utf8 = (
        b'{"segments": [{"role": "user", "text": "Zebulon \xff\xfe", "start_ms": 0, '
        b'"end_ms": 1, "final": true}]}'
    )
    response = await app.client.post(
        f"/internal/v1/sessions/{sid}/transcript",
        content=invalid_utf8,
        headers={"Authorization": f"Bearer {credential}", "content-type": "application/json"},
    )
    assert response.status_code in (400, 422)
    assert "Zebulon" not in response.text
    huge = await app.client.post(
        f"/internal/v1/sessions/{sid}/transcript",
        content=b'{"segments": [' + b" " * (300 * 1024) + b"]}",
        headers={"Authorization": f"Bearer {credential}", "content-type": "application/json"},
    )
    assert huge.status_code == 413


async def test_worker_bearer_matrix(app: RunningApp, harness_env: HarnessEnv) -> None:
    alice = bearer(harness_env, "alice")
    a = await create_session(app, alice)
    b = await create_session(app, alice)
    cred_a = await worker_credential(app, a["session_id"])
    segs = CANARY_SEGMENTS[:1]
    # A's credential writing into B: forbidden.
    cross = await post_transcript(app, b["session_id"], cred_a, segs)
    assert cross.status_code == 403
    assert cross.json()["error"] == "credential_session_mismatch"
    # Revoked.
    revoked = await worker_credential(app, a["session_id"])
    jti = jwt.decode(revoked, options={"verify_signature": False})["jti"]
    async with unit_of_work(app.state.engine) as tx:
        await tx.exec(
            update(WorkerCredential)
            .where(col(WorkerCredential.jti) == jti)
            .values(revoked_at=app.state.clock())
        )
    # Expired (issued 20 minutes ago with a 15-minute life).
    expired = await worker_credential(app, a["session_id"], ttl=timedelta(seconds=60))
    clock = app.state.clock
    assert isinstance(clock, FrozenClock)
    livekit_token = a["token"]
    idp_token = alice["Authorization"].split(" ", 1)[1]
    unknown = jwt.encode(
        {**jwt.decode(cred_a, options={"verify_signature": False}), "jti": "f" * 32},
        app.state.keys.worker_credential_key,
        algorithm="HS256",
        headers={"typ": "cp-worker+jwt"},
    )
    forged = cred_a[:-4] + ("AAAA" if not cred_a.endswith("AAAA") else "BBBB")
    clock.advance(timedelta(seconds=120))
    for name, token in {
        "revoked": revoked,
        "expired": expired,
        "livekit token": livekit_token,
        "idp token": idp_token,
        "unrecorded": unknown,
        "forged": forged,
        "empty": "",
    }.items():
        response = await post_transcript(app, a["session_id"], token, segs)
        assert response.status_code == 401, (name, response.text)
        assert response.json()["detail"] == "authentication required"
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert (await post_transcript(app, a["session_id"], cred_a, segs)).status_code == 201


class _BrokenEngine:
    """An engine whose recognizers crash (the fail-closed seam, issue 15)."""

    def redact_many(self, texts: Sequence[str]) -> list[RedactionResult]:
        raise RuntimeError("recognizer crashed")


async def test_a_failing_engine_stores_only_a_full_mask_and_audits_it(
    app: RunningApp, harness_env: HarnessEnv, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = await create_session(app, bearer(harness_env, "alice"), with_agent=True)
    sid = session["session_id"]
    credential = await worker_credential(app, sid)
    monkeypatch.setattr(app.state.redactor, "_engine", _BrokenEngine())
    response = await post_transcript(app, sid, credential, CANARY_SEGMENTS)
    assert response.status_code == 201, response.text
    assert response.json()["entity_counts"] == {"REDACTION_FAILED": len(CANARY_SEGMENTS)}
    texts = [redacted for redacted, _raw in await _stored_texts(app, sid)]
    assert texts
    assert all(re.fullmatch(r"<REDACTION_FAILED_\d+>", t) for t in texts), texts
    assert scan_database(database_url) == []
    async with unit_of_work(app.state.engine) as tx:
        records = (
            await tx.exec(
                select(AuditRecord).where(
                    col(AuditRecord.event_type) == "privacy.transcript_stored",
                    col(AuditRecord.target) == sid,
                )
            )
        ).all()
    assert [r.reason for r in records] == [
        "redaction engine failed: segments fully masked and stored"
    ]
