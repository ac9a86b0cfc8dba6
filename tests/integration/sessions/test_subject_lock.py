"""Locking subjects: nobody locks themselves out, and a lock outlives the subject's erasure.

Real IdP logins (the administrator's MFA browser session), real Cedar, both backends.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from sqlmodel import col, select

from control_plane.audit.tables import AuditRecord
from control_plane.identity.tables import Subject, SubjectSuppression
from control_plane.store.uow import unit_of_work
from tests.integration.privacy.support import bearer, browser_user, create_session
from tests.support.app import RunningApp
from tests.support.harness import HarnessEnv
from tests.support.idp import complete_login

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def _records(app: RunningApp, event_type: str, target: str) -> list[AuditRecord]:
    async with unit_of_work(app.state.engine) as tx:
        rows = await tx.exec(
            select(AuditRecord)
            .where(AuditRecord.event_type == event_type)
            .where(AuditRecord.target == target)
            .order_by(col(AuditRecord.seq))
        )
        return list(rows.all())


async def _browser_login(app: RunningApp, env: HarnessEnv, user: str) -> httpx.Response:
    """A fresh browser's login of ``user``: the callback's response."""
    transport = httpx.ASGITransport(app=app.app, client=("127.0.0.1", 50002))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        started = await client.get("/auth/login")
        redirect = complete_login(
            env, started.headers["location"], username=user, password=f"{user}-password"
        )
        parts = urlsplit(redirect)
        return await client.get(f"{parts.path}?{parts.query}")


async def test_an_admin_cannot_lock_their_own_subject(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    carol = bearer(harness_env, "carol")
    carol_id = (await create_session(live_app, carol))["identity"]
    # A member asking to lock themselves is simply not allowed to lock anyone.
    own = await live_app.client.post(f"/v1/subjects/{carol_id}/lock", json={}, headers=carol)
    assert own.status_code == 403
    async with browser_user(live_app, harness_env, "adam") as (console, csrf):
        me = (await console.get("/auth/session")).json()["subject_id"]
        refused = await console.post(
            f"/v1/subjects/{me}/lock", json={"reason": "other"}, headers=csrf
        )
        assert refused.status_code == 409
        assert refused.json()["error"] == "self_lock_refused"
        # Still active, still logged in, and the refusal is on the record.
        assert (await console.get("/auth/session")).status_code == 200
        async with unit_of_work(live_app.state.engine) as tx:
            subject = await tx.get(Subject, me)
            assert subject is not None
            assert subject.status == "active"
        [record] = await _records(live_app, "subject.locked", me)
        assert (record.outcome, record.actor) == ("denied", me)
        assert record.reason == "refused: a caller cannot lock their own subject"
        # Locking someone else still works.
        locked = await console.post(f"/v1/subjects/{carol_id}/lock", json={}, headers=csrf)
        assert locked.status_code == 200, locked.text
        assert locked.json()["status"] == "locked"


async def test_an_erased_locked_subject_is_still_locked_when_it_logs_in_again(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    carol = bearer(harness_env, "carol")
    carol_id = (await create_session(live_app, carol))["identity"]
    async with browser_user(live_app, harness_env, "adam") as (console, csrf):
        path = f"/v1/subjects/{carol_id}"
        assert (await console.post(f"{path}/lock", json={}, headers=csrf)).status_code == 200
        erased = await console.delete(f"{path}/data", headers=csrf)
        assert erased.status_code == 200, erased.text
        async with unit_of_work(live_app.state.engine) as tx:
            assert await tx.get(Subject, carol_id) is None
            kept = await tx.get(SubjectSuppression, carol_id)
            assert kept is not None
            # Pseudonym, tenant, status and a reason code: nothing else is kept.
            assert kept.model_dump(exclude={"created_at"}) == {
                "subject_id": carol_id,
                "tenant": "acme",
                "status": "locked",
                "reason_code": "locked_before_erasure",
            }
        # Back through the browser and with a bearer: locked all the same.
        refused = await _browser_login(live_app, harness_env, "carol")
        assert refused.status_code == 401
        assert "set-cookie" not in refused.headers
        async with unit_of_work(live_app.state.engine) as tx:
            reasons = (
                await tx.exec(
                    select(AuditRecord.reason)
                    .where(AuditRecord.event_type == "auth.login_failed")
                    .where(AuditRecord.actor == carol_id)
                )
            ).all()
        assert list(reasons) == ["subject is locked"]
        assert (
            await live_app.client.post("/v1/sessions", json={}, headers=carol)
        ).status_code == 403
        # An unlock lifts it, row or no row.
        unlocked = await console.post(f"{path}/unlock", json={}, headers=csrf)
        assert unlocked.status_code == 200, unlocked.text
        assert unlocked.json()["status"] == "active"
        [record] = await _records(live_app, "subject.unlocked", carol_id)
        assert record.details["suppression_lifted"] is True
        assert (await _browser_login(live_app, harness_env, "carol")).status_code == 302
        assert (await create_session(live_app, carol))["identity"] == carol_id
        # Erasing a subject that is not locked leaves nothing behind.
        assert (await console.delete(f"{path}/data", headers=csrf)).status_code == 200
        async with unit_of_work(live_app.state.engine) as tx:
            assert await tx.get(SubjectSuppression, carol_id) is None


async def test_unlocking_an_unknown_or_malformed_subject_is_a_404(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    async with browser_user(live_app, harness_env, "adam") as (console, csrf):
        for subject_id in ("sub_" + "0" * 32, "sub_nope", "x" * 300):
            response = await console.post(
                f"/v1/subjects/{subject_id}/unlock", json={}, headers=csrf
            )
            assert response.status_code == 404
            assert response.json()["error"] == "subject_not_found"
