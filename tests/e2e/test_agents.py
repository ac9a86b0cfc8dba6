"""Voice agents end to end: the real control plane served on a loopback port supervises
real worker processes (``python -m control_plane.agents.worker``, offline pipeline) that
register with the real livekit-server under the agents' own key pair; users log in at the
real IdP and talk to the agent through a real rtc client.

One stack per module (starting a worker takes seconds): SQLite, one supervised worker,
join auditing by the reconciler (the harness sends webhooks to 8787, which another suite
may own), a unique agent name so no other worker on the shared server takes our jobs.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from livekit import api, rtc
from sqlmodel import select

from control_plane.agents.tables import AgentDispatch, AgentWorker, WorkerCredential
from control_plane.agents.worker.persona import DISPLAY_NAME
from control_plane.agents.worker.replies import REPLIES, Intent
from control_plane.livekit.tables import Participation
from control_plane.store.uow import unit_of_work
from tests.support.agent_client import AgentClient
from tests.support.app import make_settings
from tests.support.harness import HarnessEnv
from tests.support.idp import get_access_token
from tests.support.webhooks import ServedApp, serve_app

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

WORKER_START_TIMEOUT = 120.0
STEP_TIMEOUT = 30.0
PHONE = "415-555-0199"
ALLOWED_ENV = {
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "LIVEKIT_URL",
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
    "CP_INTERNAL_URL",
    "CP_WORKER_ID",
    "CP_WORKER_CREDENTIAL_FILE",
    "CP_AGENT_NAME",
    "CP_AGENT_PIPELINE",
    "CP_AGENT_MAX_JOBS",
    "CP_AGENT_LOAD_THRESHOLD",
    "CP_AGENT_HEARTBEAT_INTERVAL",
    "CP_AGENT_DRAIN_TIMEOUT",
    "CP_AGENT_LOG_LEVEL",
    "PYTHONUNBUFFERED",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Stack:
    served: ServedApp
    env: HarnessEnv
    agent_name: str

    @property
    def base_url(self) -> str:
        return self.served.base_url

    async def workers(self) -> list[AgentWorker]:
        async with unit_of_work(self.served.state.engine) as tx:
            return list((await tx.exec(select(AgentWorker))).all())

    async def bearer(self, user: str) -> dict[str, str]:
        tokens = await asyncio.to_thread(get_access_token, self.env, user, f"{user}-password")
        return {"Authorization": f"Bearer {tokens.access_token}"}


async def _eventually(check: Callable[[], Awaitable[bool]], within: float = STEP_TIMEOUT) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.2)


async def _fleet_ready(stack: Stack) -> bool:
    rows = [w for w in await stack.workers() if w.stopped_at is None]
    return bool(rows) and all(w.status == "running" for w in rows)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    harness_env: HarnessEnv, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("agents-e2e")
    port = _free_port()
    agent_name = f"big-mama-e2e-{secrets.token_hex(4)}"
    settings = make_settings(
        tmp,
        database_url=f"sqlite+aiosqlite:///{tmp / 'cp.db'}",
        env=harness_env,
        agents={
            "workers": 1,
            "agent_name": agent_name,
            "livekit_api_key": harness_env.livekit_agent_key,
            "livekit_api_secret": harness_env.livekit_agent_secret,
            "internal_url": f"http://127.0.0.1:{port}",
            # The CPU-based load gate would refuse jobs on a busy 2-core test machine.
            "load_threshold": float("inf"),
            "heartbeat_interval_seconds": 0.5,
            "health_interval_seconds": 0.5,
            "restart_backoff_seconds": 0.5,
            "startup_grace_seconds": WORKER_START_TIMEOUT,
            "drain_timeout_seconds": 15,
        },
        webhooks={
            "unknown_rooms": "audit",
            "reconcile_interval_seconds": 0.5,
            "remediation_interval_seconds": 0.2,
        },
    )
    async with serve_app(settings, port=port) as served:
        running = Stack(served, harness_env, agent_name)
        await _eventually(lambda: _fleet_ready(running), WORKER_START_TIMEOUT)
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def lkapi(harness_env: HarnessEnv) -> AsyncIterator[api.LiveKitAPI]:
    async with api.LiveKitAPI(
        harness_env.livekit_url, harness_env.livekit_api_key, harness_env.livekit_api_secret
    ) as client:
        yield client


async def _create_session(stack: Stack, headers: dict[str, str]) -> dict[str, Any]:
    # Any: the JSON response.
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        response = await client.post("/v1/sessions", json={"with_agent": True}, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _agent_participations(stack: Stack, room: str) -> list[Participation]:
    async with unit_of_work(stack.served.state.engine) as tx:
        rows = (
            await tx.exec(
                select(Participation)
                .where(Participation.room_name == room)
                .where(Participation.kind == "AGENT")
            )
        ).all()
    return list(rows)


async def test_a_user_talks_to_a_dispatched_agent_and_ending_removes_everyone(
    stack: Stack, lkapi: api.LiveKitAPI
) -> None:
    alice = await stack.bearer("alice")
    body = await _create_session(stack, alice)
    sid, room = body["session_id"], body["room"]
    assert body["agent"] is not None, body
    client = await AgentClient.connect(body["livekit_url"], body["token"])
    try:
        agent = await client.wait_for_agent(STEP_TIMEOUT)
        assert agent.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        assert agent.name == DISPLAY_NAME
        assert agent.attributes.get("lk.agent.name") == stack.agent_name

        # The agent's join is explained by our dispatch row (join auditing, reconciler).
        async def explained() -> bool:
            rows = await _agent_participations(stack, room)
            return any(r.identity == agent.identity and r.verdict == "explained" for r in rows)

        await _eventually(explained)
        async with unit_of_work(stack.served.state.engine) as tx:
            dispatch = await tx.get(AgentDispatch, body["agent"]["dispatch_id"])
        assert dispatch is not None
        assert dispatch.session_id == sid

        greeting = await client.next_reply(STEP_TIMEOUT)
        assert greeting.sender == agent.identity
        turn = f"Where can I find a Black-owned bookstore near me? Call me back at {PHONE}."
        reply = await client.ask(turn, STEP_TIMEOUT)
        assert reply.text == REPLIES[Intent.DISCOVER_BUSINESS]

        # The transcript reached the control plane redacted: the export shows a placeholder.
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:

            async def user_segment() -> list[str]:
                export = (await http.get("/v1/me/data", headers=alice)).json()
                (session,) = [s for s in export["sessions"] if s["id"] == sid]
                return [s["text"] for s in session["transcript"] if s["role"] == "user"]

            async def redacted_stored() -> bool:
                return bool(await user_segment())

            await _eventually(redacted_stored)
            (stored,) = await user_segment()
            assert PHONE not in stored
            assert "0199" not in stored
            assert "<PHONE_NUMBER" in stored
            assert "bookstore" in stored

            # Metrics were recorded per turn, summarised, and exported to Prometheus.
            async def metrics() -> dict[str, Any]:
                # Any: the JSON response.
                response = await http.get(f"/v1/sessions/{sid}/metrics", headers=alice)
                assert response.status_code == 200, response.text
                summary: dict[str, Any] = response.json()
                return summary

            async def turn_recorded() -> bool:
                return bool((await metrics())["turns"])

            await _eventually(turn_recorded)
            summary = await metrics()
            e2e = summary["latencies"]["e2e_response_ms"]
            assert e2e["count"] >= 1
            assert 0 < e2e["p50"] <= e2e["p95"] < 30_000
            assert summary["latencies"]["eou_delay_ms"]["count"] == 0  # text turns
            exported = (await http.get("/metrics")).text
            assert 'cp_agent_turn_latency_seconds_count{stage="e2e_response"}' in exported

            ended = await http.post(f"/v1/sessions/{sid}/end", headers=alice)
            assert ended.status_code == 200, ended.text

        # Everyone is removed: the room is deleted, the agent's dispatch with it.
        async def everyone_gone() -> bool:
            try:
                listed = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
            except api.TwirpError:
                return True
            return not listed.participants

        async def room_gone() -> bool:
            listed = await lkapi.room.list_rooms(api.ListRoomsRequest())
            return room not in {r.name for r in listed.rooms}

        # LiveKit closes the room after its last participant has left: on a loaded machine
        # the listing can still show it for a moment after the participants are gone.
        await _eventually(everyone_gone)
        await _eventually(room_gone)
        async with unit_of_work(stack.served.state.engine) as tx:
            credentials = (
                await tx.exec(select(WorkerCredential).where(WorkerCredential.session_id == sid))
            ).all()
            dispatch = await tx.get(AgentDispatch, body["agent"]["dispatch_id"])
        assert credentials
        assert all(c.revoked_at is not None for c in credentials)
        assert dispatch is not None
        assert dispatch.deleted_at is not None
    finally:
        await client.aclose()


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = [item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item]
    return {k.decode(): v.decode() for k, v in pairs}


async def test_workers_hold_only_the_agents_key_and_credentials_stay_in_their_lane(
    stack: Stack, lkapi: api.LiveKitAPI
) -> None:
    (worker,) = [w for w in await stack.workers() if w.stopped_at is None]
    assert worker.pid is not None
    env = _environ(worker.pid)
    assert set(env) <= ALLOWED_ENV
    assert env["LIVEKIT_API_KEY"] == stack.env.livekit_agent_key
    assert env["LIVEKIT_API_KEY"] != stack.served.state.settings.livekit.api_key
    secrets_of_the_control_plane = (
        stack.env.livekit_api_secret,
        stack.env.livekit_webhook_secret,
        stack.env.idp_web_client_secret,
    )
    for value in env.values():
        assert all(secret not in value for secret in secrets_of_the_control_plane)
    assert not any(name.startswith(("CONTROL_PLANE_", "CP_TEST_")) for name in env)

    # Two sessions with agents; each agent's credential writes into its own session only.
    alice = await stack.bearer("alice")
    first = await _create_session(stack, alice)
    second = await _create_session(stack, alice)
    (dispatch,) = [
        d for d in await lkapi.agent_dispatch.list_dispatch(first["room"]) if d.agent_name
    ]
    session_credential = json.loads(dispatch.metadata)["credential"]
    credential_file = Path(env["CP_WORKER_CREDENTIAL_FILE"])
    process_credential = (await asyncio.to_thread(credential_file.read_text)).strip()
    turn = {"turns": [{"turn_id": "x", "e2e_response_ms": 1.0}]}
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:

        async def post(session_id: str, credential: str) -> int:
            response = await http.post(
                f"/internal/v1/sessions/{session_id}/metrics",
                json=turn,
                headers={"Authorization": f"Bearer {credential}"},
            )
            return response.status_code

        assert await post(second["session_id"], session_credential) == 403
        assert await post(second["session_id"], process_credential) == 401
        assert await post(first["session_id"], process_credential) == 401
        for created in (first, second):
            ended = await http.post(f"/v1/sessions/{created['session_id']}/end", headers=alice)
            assert ended.status_code == 200


async def test_a_killed_worker_is_restarted_and_serves_the_next_session(stack: Stack) -> None:
    (before,) = [w for w in await stack.workers() if w.stopped_at is None]
    assert before.pid is not None
    os.kill(before.pid, signal.SIGKILL)

    async def restarted() -> bool:
        (row,) = [w for w in await stack.workers() if w.stopped_at is None]
        return (
            row.restarts == before.restarts + 1
            and row.pid not in {None, before.pid}
            and row.status == "running"
        )

    await _eventually(restarted, WORKER_START_TIMEOUT)
    async with unit_of_work(stack.served.state.engine) as tx:
        assert before.credential_jti is not None
        old = await tx.get(WorkerCredential, before.credential_jti)
    assert old is not None
    assert old.revoked_at is not None

    # The restarted worker takes session after session (its reported load is its jobs,
    # not the busy host's CPU, so livekit-server keeps offering it work).
    alice = await stack.bearer("alice")
    for _ in range(3):
        body = await _create_session(stack, alice)
        client = await AgentClient.connect(body["livekit_url"], body["token"])
        try:
            agent = await client.wait_for_agent(STEP_TIMEOUT)
            assert agent.attributes.get("lk.agent.name") == stack.agent_name
        finally:
            await client.aclose()
            async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
                await http.post(f"/v1/sessions/{body['session_id']}/end", headers=alice)
