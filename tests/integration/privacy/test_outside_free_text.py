"""Free text from outside never outlives an erasure: request ids, IdP error parameters,
lock reasons, raw paths and client-chosen webhook fields are refused, replaced, reduced
to a code or stripped before they reach the audit chain, the logs or the webhook store.
Real app, real IdP, both backends; canaries are scanned for in the raw database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlmodel import select

from control_plane.audit.tables import AuditRecord
from control_plane.livekit.tables import WebhookEvent
from control_plane.store.uow import unit_of_work
from tests.integration.privacy.support import (
    CANARIES,
    CANARY_CARD,
    CANARY_NAME,
    bearer,
    browser_user,
    create_session,
    privacy_app,
    scan_database,
)
from tests.support.app import FrozenClock, RunningApp
from tests.support.harness import HarnessEnv
from tests.support.webhooks import event_body, participant_json, webhook_token

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

CANARY_SSN = "078-05-1120"
ALL_CANARIES = (*CANARIES, CANARY_SSN, CANARY_CARD.replace(" ", ""))


@pytest_asyncio.fixture
async def app(
    tmp_path: Path, database_url: str, harness_env: HarnessEnv, clock: FrozenClock
) -> AsyncIterator[RunningApp]:
    async with privacy_app(tmp_path, database_url, harness_env, clock) as running:
        yield running


async def _client_chosen_request_ids(app: RunningApp, alice: dict[str, str]) -> None:
    for chosen in (CANARY_NAME, f"req-{CANARY_CARD.replace(' ', '')}", CANARY_SSN):
        answer = await app.client.post(
            "/v1/sessions", json={}, headers={**alice, "X-Request-Id": chosen}
        )
        assert answer.status_code == 201
        assert answer.headers["x-request-id"] != chosen


async def _idp_error_parameters(app: RunningApp) -> None:
    for error in (CANARY_NAME, f"access_denied {CANARY_SSN}"):
        answer = await app.client.get(
            "/auth/callback", params={"error": error, "error_description": CANARY_CARD}
        )
        assert answer.status_code == 401


async def _raw_paths(app: RunningApp, alice: dict[str, str]) -> None:
    assert (await app.client.get(f"/nowhere/{CANARY_NAME}/{CANARY_SSN}")).status_code == 404
    answer = await app.client.post(f"/v1/sessions/{CANARY_SSN}/token", json={}, headers=alice)
    assert answer.status_code == 404


async def _lock_reasons(app: RunningApp, env: HarnessEnv, subject: str) -> None:
    async with browser_user(app, env, "adam") as (console, csrf):
        path = f"/v1/subjects/{subject}"
        refused = await console.post(
            f"{path}/lock", json={"reason": f"{CANARY_NAME} {CANARY_CARD}"}, headers=csrf
        )
        assert refused.status_code == 422
        assert CANARY_NAME not in refused.text
        locked = await console.post(f"{path}/lock", json={"reason": "investigation"}, headers=csrf)
        assert locked.status_code == 200, locked.text
        unlocked = await console.post(f"{path}/unlock", json={"reason": "resolved"}, headers=csrf)
        assert unlocked.status_code == 200, unlocked.text


async def _client_chosen_webhook_fields(
    app: RunningApp, env: HarnessEnv, room: str, subject: str
) -> None:
    participant = participant_json(
        identity=subject, attributes={"cp.tid": "tok_1", "nickname": CANARY_NAME}
    )
    participant.update({"name": CANARY_NAME, "metadata": f'{{"ssn":"{CANARY_SSN}"}}'})
    body = event_body(
        "track_published",
        room=room,
        event_id="EV_free_text",
        participant=participant,
        track={"sid": "TR_1", "name": CANARY_NAME, "stream": CANARY_CARD, "source": "MICROPHONE"},
    )
    token = webhook_token(body, key=env.livekit_webhook_key, secret=env.livekit_webhook_secret)
    answer = await app.client.post(
        "/webhooks/livekit", content=body, headers={"Authorization": token}
    )
    assert answer.status_code == 200, answer.text
    async with unit_of_work(app.state.engine) as tx:
        stored = await tx.get(WebhookEvent, "EV_free_text")
    assert stored is not None
    assert all(c not in stored.body for c in ALL_CANARIES)
    assert '"cp.tid":"tok_1"' in stored.body
    assert "MICROPHONE" in stored.body


async def test_outside_free_text_is_gone_after_erasure_from_chain_logs_and_stored_bodies(
    app: RunningApp,
    harness_env: HarnessEnv,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice = bearer(harness_env, "alice")
    session = await create_session(app, alice)
    subject = session["identity"]
    await _client_chosen_request_ids(app, alice)
    await _idp_error_parameters(app)
    await _raw_paths(app, alice)
    await _lock_reasons(app, harness_env, subject)
    await _client_chosen_webhook_fields(app, harness_env, session["room"], subject)
    async with unit_of_work(app.state.engine) as tx:
        records = (await tx.exec(select(AuditRecord))).all()
    reasons = {r.reason for r in records}
    assert "identity provider returned error other" in reasons
    assert {"locked: investigation", "unlocked: resolved"} <= reasons
    erased = await app.client.delete("/v1/me/data", headers=alice)
    assert erased.status_code == 200, erased.text
    # The stored body naming the subject as a participant goes with the subject.
    assert erased.json()["counts"]["livekit_webhook_event"] >= 1
    async with unit_of_work(app.state.engine) as tx:
        assert await tx.get(WebhookEvent, "EV_free_text") is None
    assert scan_database(database_url, ALL_CANARIES) == []
    logs = capsys.readouterr()
    assert all(c not in logs.out + logs.err for c in ALL_CANARIES)
