"""Token refreshes minted together (group commit) on both backends, with the real IdP,
Cedar and policies: each request gets its own token, refusal and records; the audit chain
stays intact; a store failure means no token for anyone in the batch."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import func, update
from sqlmodel import col, select

from control_plane.audit.tables import AuditRecord
from control_plane.audit.verify import verify_audit
from control_plane.identity.tables import Subject
from control_plane.sessions.tables import VoiceSession
from control_plane.store.uow import unit_of_work
from control_plane.tokens.tables import MintLedger
from tests.support.app import RunningApp
from tests.support.audit import fail_audit_inserts
from tests.support.harness import HarnessEnv
from tests.support.idp import get_access_token

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _bearer(env: HarnessEnv, user: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {get_access_token(env, user, f'{user}-password').access_token}"
    }


async def _create(app: RunningApp, headers: dict[str, str]) -> dict[str, Any]:
    response = await app.client.post("/v1/sessions", json={}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _rid(label: str) -> str:
    """A request id the middleware keeps (32 hex digits), named by a label."""
    return hashlib.sha256(label.encode()).hexdigest()[:32]


async def _refresh(
    app: RunningApp, session_id: str, headers: dict[str, str], label: str
) -> httpx.Response:
    return await app.client.post(
        f"/v1/sessions/{session_id}/token",
        json={},
        headers={**headers, "X-Request-Id": _rid(label)},
    )


async def _records(app: RunningApp, event_type: str) -> list[Any]:
    async with unit_of_work(app.state.engine) as tx:
        rows = await tx.exec(select(AuditRecord).where(col(AuditRecord.event_type) == event_type))
        return list(rows.all())


async def _ledger_count(app: RunningApp) -> int:
    async with unit_of_work(app.state.engine) as tx:
        return int((await tx.exec(select(func.count()).select_from(MintLedger))).one())


async def test_concurrent_refreshes_each_get_their_own_recorded_token(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    alice = _bearer(harness_env, "alice")
    session = await _create(live_app, alice)
    responses = await asyncio.gather(
        *(_refresh(live_app, session["session_id"], alice, f"refresh-{n:04d}") for n in range(20))
    )
    assert [r.status_code for r in responses] == [200] * 20
    bodies = [r.json() for r in responses]
    assert len({b["token_id"] for b in bodies}) == 20
    assert len({b["decision_id"] for b in bodies}) == 20
    for body in bodies:
        claims = jwt.decode(body["token"], options={"verify_signature": False})
        assert claims["attributes"]["cp.tid"] == body["token_id"]
        assert claims["video"]["room"] == session["room"]
        assert claims["sub"] == session["identity"]
    assert await _ledger_count(live_app) == 21  # the owner's first token and 20 refreshes
    minted = {r.request_id: r for r in await _records(live_app, "token.minted")}
    for n, body in enumerate(bodies):
        record = minted[_rid(f"refresh-{n:04d}")]
        assert record.decision_id == body["decision_id"]
        assert record.details["token_id"] == body["token_id"]
        assert record.tenant == "acme"
    async with unit_of_work(live_app.state.engine) as tx:
        report = await verify_audit(tx, public_key=live_app.state.keys.audit_public_key)
    assert report.is_intact, report


async def test_refusals_in_one_batch_stay_with_their_own_requests(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    alice, carol, bob = (_bearer(harness_env, u) for u in ("alice", "carol", "bob"))
    session = await _create(live_app, alice)
    ended = await _create(live_app, alice)
    async with unit_of_work(live_app.state.engine) as tx:
        connection = await tx.connection()
        await connection.execute(
            update(VoiceSession)
            .where(VoiceSession.id == ended["session_id"])
            .values(status="ended")
        )
    sid = session["session_id"]
    before = await _ledger_count(live_app)
    responses = await asyncio.gather(
        _refresh(live_app, sid, alice, "mixed-alice-1"),
        _refresh(live_app, sid, carol, "mixed-carol"),  # same tenant, not invited
        _refresh(live_app, sid, bob, "mixed-bob"),  # another tenant
        _refresh(live_app, "ses_" + "0" * 24, alice, "mixed-missing"),
        _refresh(live_app, "x" * 41, alice, "mixed-oversized"),
        _refresh(live_app, ended["session_id"], alice, "mixed-ended"),
        _refresh(live_app, sid, alice, "mixed-alice-2"),
    )
    statuses = [r.status_code for r in responses]
    assert statuses == [200, 403, 403, 404, 404, 409, 200], [r.text for r in responses]
    assert [r.json()["error"] for r in responses[1:6]] == [
        "access_denied",
        "access_denied",
        "session_not_found",
        "session_not_found",
        "session_ended",
    ]
    assert await _ledger_count(live_app) == before + 2
    denials = {
        r.request_id: r for r in await _records(live_app, "authz.decision") if r.outcome == "denied"
    }
    assert set(denials) == {_rid("mixed-carol"), _rid("mixed-bob")}
    for response, request_id in (
        (responses[1], _rid("mixed-carol")),
        (responses[2], _rid("mixed-bob")),
    ):
        assert denials[request_id].decision_id in response.json()["detail"]
        assert denials[request_id].target == sid
    assert denials[_rid("mixed-bob")].tenant == "globex"  # the caller's tenant, not the session's


async def test_a_locked_subject_is_refused_from_the_next_batch_on(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    alice = _bearer(harness_env, "alice")
    session = await _create(live_app, alice)
    sid = session["session_id"]
    assert (await _refresh(live_app, sid, alice, "before-lock")).status_code == 200
    async with unit_of_work(live_app.state.engine) as tx:
        connection = await tx.connection()
        await connection.execute(
            update(Subject).where(Subject.id == session["identity"]).values(status="locked")
        )
    refused = await asyncio.gather(
        *(_refresh(live_app, sid, alice, f"locked-{n}") for n in range(3))
    )
    assert [r.status_code for r in refused] == [403] * 3


async def test_a_store_failure_during_a_refresh_means_no_token_and_503(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    alice = _bearer(harness_env, "alice")
    session = await _create(live_app, alice)
    before = await _ledger_count(live_app)
    await fail_audit_inserts(live_app.state.engine)
    responses = await asyncio.gather(
        *(_refresh(live_app, session["session_id"], alice, f"down-{n}") for n in range(5))
    )
    assert [r.status_code for r in responses] == [503] * 5
    for response in responses:
        assert response.json()["error"] == "store_unavailable"
        assert "token" not in response.json()
    assert await _ledger_count(live_app) == before
