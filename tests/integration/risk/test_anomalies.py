"""Anomaly detection end to end on the real app: the configured responses take effect and
alerts reach a real local receiver signed so that it can verify them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from control_plane.audit.tables import AuditRecord
from control_plane.identity.tables import Subject
from control_plane.risk.alerts import SIGNATURE_HEADER, verify_alert_signature
from control_plane.risk.tables import Anomaly
from control_plane.store.uow import unit_of_work
from tests.support.app import FrozenClock, RunningApp, make_settings, running_app
from tests.support.harness import HarnessEnv
from tests.support.idp import get_access_token
from tests.support.receiver import running_receiver

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

ALERT_SECRET = "a" * 40
AppFactory = Callable[..., AbstractAsyncContextManager[RunningApp]]


@pytest.fixture
def app_with(
    tmp_path: Path, database_url: str, harness_env: HarnessEnv, clock: FrozenClock
) -> AppFactory:
    """The real app with risk/webhook settings overridden for one test."""

    def factory(**sections: dict[str, Any]) -> AbstractAsyncContextManager[RunningApp]:
        # Any: setting overrides as plain dicts, like environment variables.
        settings = make_settings(tmp_path, database_url=database_url, env=harness_env, **sections)
        return running_app(settings, clock=clock)

    return factory


async def _bearer(env: HarnessEnv, user: str, *, mfa: bool = False) -> dict[str, str]:
    tokens = await asyncio.to_thread(
        get_access_token, env, user, f"{user}-password", otp="246810" if mfa else None
    )
    return {"Authorization": f"Bearer {tokens.access_token}"}


async def _anomalies(app: RunningApp) -> list[Anomaly]:
    async with unit_of_work(app.state.engine) as tx:
        return list((await tx.exec(select(Anomaly).order_by(col(Anomaly.created_at)))).all())


async def _records(app: RunningApp, event_type: str) -> list[AuditRecord]:
    async with unit_of_work(app.state.engine) as tx:
        query = select(AuditRecord).where(col(AuditRecord.event_type) == event_type)
        return list((await tx.exec(query)).all())


async def _until_backed_off(app: RunningApp, clock: FrozenClock) -> None:
    """Wait until the failed attempt is recorded (its back-off replaces the claim)."""
    for _ in range(200):
        [anomaly] = await _anomalies(app)
        retry_at = anomaly.next_alert_at
        if retry_at is not None:
            retry_at = retry_at if retry_at.tzinfo else retry_at.replace(tzinfo=clock().tzinfo)
            if retry_at - clock() < timedelta(seconds=30):
                return
        await asyncio.sleep(0.02)
    raise AssertionError("the failed delivery was never recorded")


async def test_mint_rate_step_up_refuses_media_until_an_mfa_login(
    app_with: AppFactory, harness_env: HarnessEnv, clock: FrozenClock
) -> None:
    # Baseline floor 1 x factor 2: a new subject's third mint in a window is anomalous.
    clock.now -= timedelta(seconds=5)  # the MFA login below happens after the anomaly
    risk = {"mint_floor": 1.0, "mint_factor": 2.0, "responses": {"mint_rate": "step_up"}}
    async with app_with(risk=risk) as app:
        alice = await _bearer(harness_env, "alice")
        created = await app.client.post("/v1/sessions", json={}, headers=alice)
        assert created.status_code == 201, created.text
        token_path = f"/v1/sessions/{created.json()['session_id']}/token"
        for _ in range(2):
            minted = await app.client.post(token_path, json={}, headers=alice)
            assert minted.status_code == 200, minted.text  # the third mint is the anomaly
        [anomaly] = await _anomalies(app)
        assert (anomaly.rule, anomaly.response, anomaly.severity) == (
            "mint_rate",
            "step_up",
            "high",
        )
        assert anomaly.tenant == "acme"
        assert anomaly.evidence["window_count"] == 3
        refused = await app.client.post(token_path, json={}, headers=alice)
        assert refused.status_code == 403, refused.text
        denials = [
            r
            for r in await _records(app, "authz.decision")
            if '"risk_score": 80' in json.dumps(r.details.get("input"))
        ]
        assert [d.outcome for d in denials] == ["denied"]
        stepped_up = await _bearer(harness_env, "alice", mfa=True)
        again = await app.client.post(token_path, json={}, headers=stepped_up)
        assert again.status_code == 200, again.text
        # The auditor of the tenant sees it; an admin (platform scope) does not.
        listed = await app.client.get("/v1/anomalies", headers=await _bearer(harness_env, "audrey"))
        assert [a["id"] for a in listed.json()["items"]] == [anomaly.id]
        admin = await app.client.get("/v1/anomalies", headers=await _bearer(harness_env, "adam"))
        assert admin.status_code == 200
        assert admin.json()["items"] == []
        # Refreshes minted together weigh the risk with each caller's own login: a batch
        # holding the same subject's MFA and plain logins answers each on its own.
        mixed = await asyncio.gather(
            *(app.client.post(token_path, json={}, headers=h) for h in (alice, stepped_up) * 2)
        )
        assert [r.status_code for r in mixed] == [403, 200, 403, 200], [r.text for r in mixed]


async def test_session_fanout_lock_locks_the_subject(
    app_with: AppFactory, harness_env: HarnessEnv
) -> None:
    risk = {"session_fanout_threshold": 1, "responses": {"session_fanout": "lock"}}
    async with app_with(risk=risk) as app:
        carol = await _bearer(harness_env, "carol")
        for _ in range(2):  # a second distinct session within the hour crosses 1
            created = await app.client.post("/v1/sessions", json={}, headers=carol)
            assert created.status_code == 201, created.text
        [anomaly] = await _anomalies(app)
        assert (anomaly.rule, anomaly.response) == ("session_fanout", "lock")
        async with unit_of_work(app.state.engine) as tx:
            subject = await tx.get(Subject, anomaly.subject_id)
        assert subject is not None
        assert subject.status == "locked"
        [locked] = await _records(app, "subject.locked")
        assert locked.target == anomaly.subject_id
        assert locked.details["anomaly_id"] == anomaly.id
        refused = await app.client.post("/v1/sessions", json={}, headers=carol)
        assert refused.status_code == 403


async def test_auth_failures_alert_reaches_a_real_receiver_signed(
    app_with: AppFactory, harness_env: HarnessEnv, clock: FrozenClock
) -> None:
    async with running_receiver() as receiver:
        receiver.statuses.append(503)  # the first delivery fails and is retried
        webhooks = {"alert_url": receiver.url, "alert_secret": ALERT_SECRET}
        risk = {"auth_failure_threshold": 3, "alert_interval_seconds": 0.05}
        async with app_with(webhooks=webhooks, risk=risk) as app:
            for _ in range(4):
                rejected = await app.client.get(
                    "/v1/audit", headers={"Authorization": "Bearer not-a-token"}
                )
                assert rejected.status_code == 401
            [anomaly] = await _anomalies(app)
            assert (anomaly.rule, anomaly.response, anomaly.tenant) == (
                "auth_failures",
                "alert",
                None,
            )
            app.state.jobs.wake("risk.alerts")
            await receiver.wait_for(1, within=15.0)
            await _until_backed_off(app, clock)
            clock.advance(timedelta(seconds=1))  # past the back-off of the failed attempt
            app.state.jobs.wake("risk.alerts")
            first, second = await receiver.wait_for(2, within=15.0)
            assert first.body == second.body  # a retry sends the same alert
            assert second.headers["x-cp-delivery"] == anomaly.id
            assert verify_alert_signature(
                ALERT_SECRET.encode(),
                second.body,
                second.headers[SIGNATURE_HEADER.lower()],
                now=int(time.time()),
            )
            body = json.loads(second.body)
            assert (body["id"], body["rule"], body["evidence"]["window_count"]) == (
                anomaly.id,
                "auth_failures",
                4,
            )
            assert "not-a-token" not in second.body.decode()
            for _ in range(50):
                [delivered] = await _anomalies(app)
                if delivered.alerted_at is not None:
                    break
                await asyncio.sleep(0.05)
            assert delivered.alerted_at is not None
            assert delivered.alert_attempts == 2
            # Platform-wide anomalies are for admins, not the tenant's auditors.
            admin = await app.client.get(
                "/v1/anomalies", headers=await _bearer(harness_env, "adam")
            )
            assert [a["id"] for a in admin.json()["items"]] == [anomaly.id]
            auditor = await app.client.get(
                "/v1/anomalies", headers=await _bearer(harness_env, "audrey")
            )
            assert auditor.json()["items"] == []
