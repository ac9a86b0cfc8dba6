"""Agent dispatch on session creation, on both backends, against the real livekit-server
and the real IdP: Cedar's dispatch_agent decides (recorded either way), the dispatch
carries a session-bound credential and the owner's identity, and ending the session
deletes the dispatch and revokes the credential. No worker runs here (the agent name is
unique, so no worker on the shared server takes the job); tests/e2e/test_agents.py runs
real workers."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from livekit import api
from sqlmodel import select

from control_plane.agents.credentials import verify_credential
from control_plane.agents.tables import AgentDispatch, WorkerCredential
from control_plane.agents.types import CredentialKind
from control_plane.audit.tables import AuditRecord
from control_plane.store.uow import unit_of_work
from tests.integration.privacy.support import bearer
from tests.support.app import REPO, FrozenClock, RunningApp, make_settings, running_app
from tests.support.harness import HarnessEnv

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

FORBID_DISPATCH = """
// Test-only: this deployment does not allow voice agents for anyone.
@id("test-forbid-agents")
forbid (principal, action == Action::"dispatch_agent", resource);
"""


async def _app(
    tmp_path: Path, database_url: str, env: HarnessEnv, clock: FrozenClock, policies: Path
) -> AsyncIterator[RunningApp]:
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        env=env,
        policies={"dir": policies},
        privacy={"jobs_enabled": False},
        agents={"agent_name": f"it-agent-{secrets.token_hex(4)}"},
        webhooks={"remediation_interval_seconds": 0.2},
    )
    async with running_app(settings, clock=clock) as running:
        yield running


@pytest_asyncio.fixture
async def app(
    tmp_path: Path, database_url: str, harness_env: HarnessEnv, clock: FrozenClock
) -> AsyncIterator[RunningApp]:
    async for running in _app(tmp_path, database_url, harness_env, clock, REPO / "policies"):
        yield running


@pytest_asyncio.fixture
async def lkapi(harness_env: HarnessEnv) -> AsyncIterator[api.LiveKitAPI]:
    async with api.LiveKitAPI(
        harness_env.livekit_url, harness_env.livekit_api_key, harness_env.livekit_api_secret
    ) as client:
        yield client


async def _eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def _named_dispatches(lkapi: api.LiveKitAPI, room: str) -> list[api.AgentDispatch]:
    return [d for d in await lkapi.agent_dispatch.list_dispatch(room) if d.agent_name]


async def _decisions(app: RunningApp, session_id: str) -> list[dict[str, Any]]:
    # Any: audit details are JSON.
    async with unit_of_work(app.state.engine) as tx:
        rows = (
            await tx.exec(
                select(AuditRecord)
                .where(AuditRecord.event_type == "authz.decision")
                .where(AuditRecord.target == session_id)
            )
        ).all()
    return [r.details for r in rows if r.details.get("action") == "dispatch_agent"]


async def test_session_with_agent_gets_a_session_bound_dispatch_and_ending_removes_it(
    app: RunningApp, harness_env: HarnessEnv, lkapi: api.LiveKitAPI
) -> None:
    alice = bearer(harness_env, "alice")
    response = await app.client.post("/v1/sessions", json={"with_agent": True}, headers=alice)
    assert response.status_code == 201, response.text
    body = response.json()
    sid, room = body["session_id"], body["room"]
    agent = body["agent"]
    assert agent is not None, body
    assert agent["agent_name"] == app.state.settings.agents.agent_name
    assert body["agent_reason"] is None
    assert agent["decision_id"] == body["agent_decision_id"]
    assert "credential" not in response.text  # the credential goes to the agent only

    (decision,) = await _decisions(app, sid)
    assert decision["decisions"][0]["allowed"] is True
    assert decision["decisions"][0]["policies"] == ["member-dispatch-agent-own-session"]

    async with unit_of_work(app.state.engine) as tx:
        row = await tx.get(AgentDispatch, agent["dispatch_id"])
        assert row is not None
        assert (row.session_id, row.room_name, row.decision_id) == (sid, room, agent["decision_id"])
        credential_row = await tx.get(WorkerCredential, row.credential_jti)
        assert credential_row is not None
        assert credential_row.session_id == sid

    # livekit-server also lists its implicit dispatch for unnamed agents (agent_name "")
    # in every new room; only named workers run here, and join auditing explains an agent
    # only by a dispatch row of ours.
    (dispatch,) = await _named_dispatches(lkapi, room)
    assert dispatch.id == agent["dispatch_id"]
    assert dispatch.agent_name == app.state.settings.agents.agent_name
    metadata = json.loads(dispatch.metadata)
    assert set(metadata) == {
        "session_id",
        "decision_id",
        "participant_identity",
        "retention_class",
        "credential",
    }
    assert metadata["session_id"] == sid
    assert metadata["participant_identity"] == body["identity"]  # the owner's pseudonym
    assert metadata["decision_id"] == agent["decision_id"]
    claims = verify_credential(
        app.state.keys.worker_credential_key, metadata["credential"], now=app.state.clock()
    )
    assert claims.kind is CredentialKind.SESSION
    assert claims.session_id == sid
    assert claims.jti == row.credential_jti

    ended = await app.client.post(f"/v1/sessions/{sid}/end", headers=alice)
    assert ended.status_code == 200, ended.text

    async def dispatch_gone() -> bool:
        try:
            return not await _named_dispatches(lkapi, room)
        except api.TwirpError:
            return True  # the room itself is gone

    await _eventually(dispatch_gone)
    async with unit_of_work(app.state.engine) as tx:
        revoked = await tx.get(WorkerCredential, claims.jti)
        assert revoked is not None
        assert revoked.revoked_at is not None
        gone = await tx.get(AgentDispatch, agent["dispatch_id"])
        assert gone is not None
        assert gone.deleted_at is not None


async def test_a_session_without_agent_request_gets_no_agent(
    app: RunningApp, harness_env: HarnessEnv, lkapi: api.LiveKitAPI
) -> None:
    response = await app.client.post("/v1/sessions", json={}, headers=bearer(harness_env, "carol"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["agent"], body["agent_reason"], body["agent_decision_id"]) == (None, None, None)
    assert await _named_dispatches(lkapi, body["room"]) == []


@pytest_asyncio.fixture
async def forbidding_app(
    tmp_path: Path, database_url: str, harness_env: HarnessEnv, clock: FrozenClock
) -> AsyncIterator[RunningApp]:
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policies)
    (policies / "test_forbid_agents.cedar").write_text(FORBID_DISPATCH)
    async for running in _app(tmp_path, database_url, harness_env, clock, policies):
        yield running


async def test_a_user_denied_dispatch_agent_gets_the_session_without_an_agent(
    forbidding_app: RunningApp, harness_env: HarnessEnv, lkapi: api.LiveKitAPI
) -> None:
    app = forbidding_app
    response = await app.client.post(
        "/v1/sessions", json={"with_agent": True}, headers=bearer(harness_env, "alice")
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["agent"] is None
    assert body["agent_reason"] == "dispatch_agent denied by policy"
    assert body["token"]  # the session itself is granted
    (decision,) = await _decisions(app, body["session_id"])
    assert decision["decisions"][0]["allowed"] is False
    assert decision["decisions"][0]["id"] == body["agent_decision_id"]
    assert decision["decisions"][0]["policies"] == ["test-forbid-agents"]
    assert await _named_dispatches(lkapi, body["room"]) == []
    async with unit_of_work(app.state.engine) as tx:
        assert (await tx.exec(select(AgentDispatch))).all() == []
        assert (await tx.exec(select(WorkerCredential))).all() == []
