"""Policy inspection, what-if and reload through the API, the CLI and SIGHUP."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlmodel import select

from control_plane.audit.tables import AuditRecord
from control_plane.store.uow import unit_of_work
from tests.support.app import REPO, FrozenClock, RunningApp, make_settings, running_app
from tests.support.harness import HarnessEnv
from tests.support.idp import get_access_token

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

QUESTION = {
    "principal": {
        "type": "User",
        "id": "sub_x",
        "tenant": "acme",
        "groups": ["member"],
        "email_verified": True,
    },
    "action": "join",
    "resource": {"type": "Session", "id": "ses_1", "tenant": "globex", "owner": "sub_y"},
}


def _auth(env: HarnessEnv, user: str, *, mfa: bool = False) -> dict[str, str]:
    token = get_access_token(
        env, user, f"{user}-password", otp="246810" if mfa else None
    ).access_token
    return {"Authorization": f"Bearer {token}"}


@pytest_asyncio.fixture
async def app_with_own_policies(
    tmp_path: Path, database_url: str, harness_env: HarnessEnv
) -> AsyncIterator[tuple[RunningApp, Path]]:
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policies)
    settings = make_settings(
        tmp_path, database_url=database_url, env=harness_env, policies={"dir": policies}
    )
    async with running_app(settings, clock=FrozenClock()) as running:
        yield running, policies


async def _events(app: RunningApp, event_type: str) -> list[AuditRecord]:
    async with unit_of_work(app.state.engine) as tx:
        return list(
            (await tx.exec(select(AuditRecord).where(AuditRecord.event_type == event_type))).all()
        )


async def test_auditor_can_explain_a_hypothetical_cross_tenant_join(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    response = await live_app.client.post(
        "/v1/policies/decide", json=QUESTION, headers=_auth(harness_env, "audrey")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["allowed"] is False
    assert "forbid-cross-tenant-session" in [p["policy_id"] for p in body["determining_policies"]]
    assert body["policy_version"].startswith("sha256:")


async def test_members_cannot_explain_and_bad_questions_are_422(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    member = await live_app.client.post(
        "/v1/policies/decide", json=QUESTION, headers=_auth(harness_env, "alice")
    )
    assert member.status_code == 403
    auditor = _auth(harness_env, "audrey")
    for bad in (
        {**QUESTION, "action": "fly"},
        {**QUESTION, "principal": {"type": "Robot"}},
        {**QUESTION, "resource": {"type": "Session"}},
        {"principal": "x"},
    ):
        response = await live_app.client.post("/v1/policies/decide", json=bad, headers=auditor)
        assert response.status_code == 422, (bad, response.text)


async def test_the_active_set_is_shown_to_auditors_only(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    shown = await live_app.client.get("/v1/policies", headers=_auth(harness_env, "audrey"))
    assert shown.status_code == 200, shown.text
    assert shown.json()["version"].startswith("sha256:")
    assert shown.json()["policies"]
    member = await live_app.client.get("/v1/policies", headers=_auth(harness_env, "alice"))
    assert member.status_code == 403
    for headers in ({}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic eA=="}):
        refused = await live_app.client.get("/v1/policies", headers=headers)
        assert refused.status_code == 401, headers


async def test_reload_needs_admin_with_mfa_and_an_invalid_set_keeps_the_old(
    app_with_own_policies: tuple[RunningApp, Path], harness_env: HarnessEnv
) -> None:
    app, policies = app_with_own_policies
    before = app.state.policies.current.version
    no_mfa = await app.client.post("/v1/policies/reload", headers=_auth(harness_env, "adam"))
    assert no_mfa.status_code == 403
    admin = _auth(harness_env, "adam", mfa=True)
    (policies / "broken.cedar").write_text("permit (principal, action, resource) when { nope };")
    refused = await app.client.post("/v1/policies/reload", headers=admin)
    assert refused.status_code == 422
    assert app.state.policies.current.version == before
    (policies / "broken.cedar").unlink()
    (policies / "extra.cedar").write_text(
        '@id("extra-nothing")\nforbid (principal, action, resource) when { false };\n'
    )
    ok = await app.client.post("/v1/policies/reload", headers=admin)
    assert ok.status_code == 200
    assert ok.json()["version"] != before
    assert [r.outcome for r in await _events(app, "policy.reload_failed")] == ["failure"]
    assert len(await _events(app, "policy.reloaded")) == 1


async def test_sighup_reloads_and_audits(
    app_with_own_policies: tuple[RunningApp, Path],
) -> None:
    app, policies = app_with_own_policies
    before = app.state.policies.current.version
    (policies / "extra.cedar").write_text(
        '@id("extra-sighup")\nforbid (principal, action, resource) when { false };\n'
    )
    os.kill(os.getpid(), signal.SIGHUP)
    for _ in range(50):
        await asyncio.sleep(0.05)
        if app.state.policies.current.version != before:
            break
    assert app.state.policies.current.version != before
    for _ in range(50):
        if await _events(app, "policy.reloaded"):
            break
        await asyncio.sleep(0.05)
    assert len(await _events(app, "policy.reloaded")) == 1
