"""The worker supervisor on both backends, with stand-in worker processes
(``tests/support/fake_worker.py``) that speak the worker's control-plane contract: the
real app served on a loopback port, real processes, signals and files, real credentials,
real IdP users reading the fleet. (The real voice worker under the supervisor, with
LiveKit, is in tests/e2e/test_agents.py.)"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import stat
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlmodel import select

from control_plane.agents.credentials import verify_credential
from control_plane.agents.fleet import register_worker
from control_plane.agents.supervisor import Supervisor
from control_plane.agents.tables import AgentWorker, WorkerCredential
from control_plane.agents.types import CredentialKind
from control_plane.agents.worker_credentials import (
    issue_worker_credential,
    revoke_worker_credential,
)
from control_plane.audit.tables import AuditRecord
from control_plane.config import Settings
from control_plane.store.uow import unit_of_work
from tests.integration.privacy.support import bearer, create_session, worker_credential
from tests.support.app import REPO, RunningApp, make_settings, running_app
from tests.support.harness import HarnessEnv
from tests.support.webhooks import ServedApp, serve_app

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

AGENT_KEY = "cp-agent-fake"
AGENT_SECRET = "fake-agent-secret-" + "x" * 32
FAKE_WORKER = (sys.executable, "-m", "tests.support.fake_worker")
EXPECTED_ENV = {
    "PATH",
    "FAKE_WORKER_MODE",
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


class ShiftedClock:
    """Real time plus an offset the test moves forward (credential rotation)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _settings(tmp_path: Path, database_url: str, env: HarnessEnv, **agents: Any) -> Settings:
    # Any: agent setting overrides, as environment variables would give them.
    return make_settings(
        tmp_path,
        database_url=database_url,
        env=env,
        privacy={"jobs_enabled": False},
        webhooks={"unknown_rooms": "audit"},
        agents={
            "workers": 0,  # the app supervises nothing; each test runs its own supervisor
            "agent_name": "fake-agent",
            "livekit_api_key": AGENT_KEY,
            "livekit_api_secret": AGENT_SECRET,
            "passthrough_env": ["FAKE_WORKER_MODE"],
            "credential_ttl_seconds": 60,
            "health_interval_seconds": 0.1,
            "heartbeat_interval_seconds": 0.2,
            "heartbeat_timeout_seconds": 2.0,
            "startup_grace_seconds": 5.0,
            "restart_backoff_seconds": 0.2,
            "restart_backoff_max_seconds": 1.0,
            "drain_timeout_seconds": 3.0,
            **agents,
        },
    )


@dataclass
class Fleet:
    served: ServedApp
    clock: ShiftedClock
    settings: Settings

    def supervisor(self, *, workers: int, mode: str = "ok", **agents: Any) -> Supervisor:
        # Any: agent setting overrides.
        section = self.settings.agents.model_copy(update={"workers": workers, **agents})
        return Supervisor(
            engine=self.served.state.engine,
            credential_key=self.served.state.keys.worker_credential_key,
            settings=self.settings.model_copy(update={"agents": section}),
            clock=self.clock,
            internal_url=self.served.base_url,
            command=FAKE_WORKER,
            cwd=REPO,
            # What the control plane's own environment might hold: none of it may leak.
            environ={
                "PATH": os.environ.get("PATH", ""),
                "HOME": "/root",
                "FAKE_WORKER_MODE": mode,
                "CONTROL_PLANE_KEYS__KEK": "control-plane-kek-must-not-leak",
                "CONTROL_PLANE_LIVEKIT__API_SECRET": (
                    self.settings.livekit.api_secret.get_secret_value()
                ),
                "AWS_SECRET_ACCESS_KEY": "cloud-secret-must-not-leak",
            },
        )

    async def rows(self) -> dict[str, AgentWorker]:
        async with unit_of_work(self.served.state.engine) as tx:
            return {r.id: r for r in (await tx.exec(select(AgentWorker))).all()}

    async def credential(self, jti: str) -> WorkerCredential | None:
        async with unit_of_work(self.served.state.engine) as tx:
            return await tx.get(WorkerCredential, jti)


@pytest_asyncio.fixture
async def fleet(tmp_path: Path, database_url: str, harness_env: HarnessEnv) -> AsyncIterator[Fleet]:
    clock = ShiftedClock()
    settings = _settings(tmp_path, database_url, harness_env)
    async with serve_app(settings, port=_free_port(), clock=clock) as served:
        yield Fleet(served, clock, settings)


async def _eventually(check: Callable[[], Awaitable[bool]], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


def _modes(credential_file: Path) -> tuple[int, int]:
    return (
        stat.S_IMODE(credential_file.stat().st_mode),
        stat.S_IMODE(credential_file.parent.stat().st_mode),
    )


def _is_gone(pid: int) -> bool:
    proc = Path(f"/proc/{pid}")
    return not proc.exists() or "zombie" in (proc / "status").read_text()


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = [item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item]
    return {k.decode(): v.decode() for k, v in pairs}


async def _all_running(fleet: Fleet, count: int) -> bool:
    rows = [r for r in (await fleet.rows()).values() if r.stopped_at is None]
    return len(rows) == count and all(
        r.status == "running" and r.last_heartbeat_at is not None for r in rows
    )


async def test_workers_get_least_privilege_and_a_killed_one_is_restarted(
    fleet: Fleet, harness_env: HarnessEnv
) -> None:
    supervisor = fleet.supervisor(workers=2)
    await supervisor.start()
    try:
        await _eventually(lambda: _all_running(fleet, 2))
        rows = await fleet.rows()
        first = sorted(rows.values(), key=lambda r: r.slot)[0]
        assert first.pid is not None
        env = _environ(first.pid)
        assert set(env) == EXPECTED_ENV
        assert env["LIVEKIT_API_KEY"] == AGENT_KEY != fleet.settings.livekit.api_key
        cp_secret = fleet.settings.livekit.api_secret.get_secret_value()
        assert all(cp_secret not in value for value in env.values())
        assert not any("must-not-leak" in value for value in env.values())
        credential_file = Path(env["CP_WORKER_CREDENTIAL_FILE"])
        assert _modes(credential_file) == (0o600, 0o700)
        token = (await asyncio.to_thread(credential_file.read_text)).strip()
        claims = verify_credential(
            fleet.served.state.keys.worker_credential_key, token, now=fleet.clock()
        )
        assert claims.kind is CredentialKind.WORKER
        assert (claims.worker_id, claims.session_id) == (first.id, None)

        # The fleet: auditors and admins read it (nothing secret in it); members do not.
        async with httpx.AsyncClient(base_url=fleet.served.base_url, timeout=10) as client:
            denied = await client.get("/v1/agents", headers=bearer(harness_env, "alice"))
            assert denied.status_code == 403
            seen = await client.get("/v1/agents", headers=bearer(harness_env, "audrey"))
        assert seen.status_code == 200, seen.text
        assert token not in seen.text
        assert first.credential_jti is not None
        assert first.credential_jti not in seen.text
        workers = {w["worker_id"]: w for w in seen.json()["workers"]}
        assert workers[first.id]["pid"] == first.pid
        assert workers[first.id]["process_alive"] is True
        assert workers[first.id]["restarts"] == 0
        assert workers[first.id]["heartbeat_age_seconds"] < 5

        os.kill(first.pid, signal.SIGKILL)

        async def restarted() -> bool:
            row = (await fleet.rows())[first.id]
            return (
                row.restarts == 1
                and row.pid not in {None, first.pid}
                and row.status == "running"
                and row.last_exit_code == -signal.SIGKILL
            )

        await _eventually(restarted)
        old = await fleet.credential(first.credential_jti)
        assert old is not None
        assert old.revoked_at is not None  # the dead process's credential is dead too

        # Rotation: past two thirds of its life, a credential is replaced and revoked, and
        # the worker keeps heartbeating with the new one (it re-reads the file).
        before = (await fleet.rows())[first.id]
        fleet.clock.offset += timedelta(seconds=45)
        rotated_at = fleet.clock()

        async def rotated() -> bool:
            row = (await fleet.rows())[first.id]
            beat = row.last_heartbeat_at
            return (
                row.credential_jti != before.credential_jti
                and beat is not None
                and beat.replace(tzinfo=beat.tzinfo or UTC) > rotated_at
            )

        await _eventually(rotated)
        assert before.credential_jti is not None
        superseded = await fleet.credential(before.credential_jti)
        assert superseded is not None
        assert superseded.revoked_at is not None
    finally:
        await supervisor.stop()
    rows = await fleet.rows()
    assert all(r.status == "stopped" and r.pid is None for r in rows.values())
    assert list(supervisor.credential_dir.iterdir()) == []
    async with unit_of_work(fleet.served.state.engine) as tx:
        live = (
            await tx.exec(
                select(WorkerCredential)
                .where(WorkerCredential.kind == "worker")
                .where(WorkerCredential.revoked_at == None)  # noqa: E711
            )
        ).all()
    assert live == []


async def _audit_reasons(fleet: Fleet) -> list[str]:
    async with unit_of_work(fleet.served.state.engine) as tx:
        rows = (
            await tx.exec(select(AuditRecord).where(AuditRecord.event_type == "agent.worker"))
        ).all()
    return [r.reason for r in rows]


async def test_a_silent_worker_is_replaced_and_a_stubborn_one_killed_on_drain(
    fleet: Fleet,
) -> None:
    silent = fleet.supervisor(workers=1, mode="silent", startup_grace_seconds=1.0)
    await silent.start()
    try:

        async def replaced() -> bool:
            rows = list((await fleet.rows()).values())
            return len(rows) == 1 and rows[0].restarts >= 1

        await _eventually(replaced)
    finally:
        await silent.stop()
    assert any("unhealthy" in r for r in await _audit_reasons(fleet))

    stubborn = fleet.supervisor(workers=1, mode="stubborn", drain_timeout_seconds=1.0)
    await stubborn.start()
    await _eventually(lambda: _all_running(fleet, 1))
    pid = stubborn.slots()[0].pid
    assert pid is not None
    started = time.monotonic()
    await stubborn.stop()
    assert time.monotonic() - started < 5
    assert _is_gone(pid)
    assert "workers drained, some killed" in await _audit_reasons(fleet)


@pytest_asyncio.fixture
async def app(
    tmp_path: Path, database_url: str, harness_env: HarnessEnv
) -> AsyncIterator[RunningApp]:
    async with running_app(_settings(tmp_path, database_url, harness_env)) as running:
        yield running


async def test_a_heartbeat_needs_the_worker_own_process_credential(
    app: RunningApp, harness_env: HarnessEnv
) -> None:
    now = app.state.clock()
    async with unit_of_work(app.state.engine) as tx:
        for worker_id in ("wrk_a", "wrk_b"):
            await register_worker(
                tx,
                worker_id=worker_id,
                supervisor_id="test",
                slot=0,
                agent_name="fake-agent",
                now=now,
            )
        token, claims = await issue_worker_credential(
            tx,
            key=app.state.keys.worker_credential_key,
            worker_id="wrk_a",
            ttl=timedelta(minutes=5),
            now=now,
        )

    async def beat(credential: str | None, **body: Any) -> int:
        # Any: heartbeat fields.
        payload = {"worker_id": "wrk_a", "active_jobs": 2, "agent_name": "fake-agent", **body}
        headers = {"content-type": "application/json"}
        if credential is not None:
            headers["authorization"] = f"Bearer {credential}"
        response = await app.client.post(
            "/internal/v1/workers/heartbeat", content=json.dumps(payload), headers=headers
        )
        return response.status_code

    assert await beat(token) == 204
    async with unit_of_work(app.state.engine) as tx:
        row = await tx.get(AgentWorker, "wrk_a")
        assert row is not None
        assert row.active_jobs == 2
        assert row.last_heartbeat_at is not None
    assert await beat(token, worker_id="wrk_b") == 403  # another worker's slot
    assert await beat(token, agent_name="other-agent") == 403
    assert await beat(token, active_jobs=-1) == 422
    assert await beat(token, extra="x") == 422
    assert await beat(None) == 401
    session = await create_session(app, bearer(harness_env, "alice"))
    assert await beat(await worker_credential(app, session["session_id"])) == 401
    async with unit_of_work(app.state.engine) as tx:
        assert await revoke_worker_credential(tx, jti=claims.jti, now=app.state.clock())
    assert await beat(token) == 401
