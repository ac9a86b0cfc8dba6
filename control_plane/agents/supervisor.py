"""The worker supervisor: launch the voice agent workers, keep them healthy, drain them.

Least privilege for each worker process (threats: a compromised worker, or a leaked worker
environment, must not yield the control plane's secrets):

- its environment is built from an allow-list (``worker_environment``), never copied
  from ``os.environ``: the agents' own LiveKit key pair (refused if it is the control
  plane's), the internal API URL, its worker id and the path of its credential file;
- its internal-API credential is a WORKER credential (heartbeats only: no session, so no
  transcript or metrics write), short-lived, in a 0600 file under ``var/agents`` (0700),
  rotated at two thirds of its life, recorded, and revoked when the process exits;
- it runs in its own process group, so a dead worker's job processes are killed with it.

Health: the process must be alive and its heartbeats (``POST /internal/v1/workers/
heartbeat``, written to ``agent_worker``) recent. A dead process is restarted after an
exponential backoff; an unresponsive one is terminated (then killed) and restarted.
Shutdown drains: SIGTERM, wait ``drain_timeout_seconds``, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.agents.fleet import (
    list_supervised,
    record_credential_rotated,
    record_worker_started,
    record_worker_state,
    record_workers_stopped,
    register_worker,
)
from control_plane.agents.launch import (
    WORKER_MODULE,
    check_agent_settings,
    default_internal_url,
    restart_delay,
    worker_environment,
    write_credential_file,
)
from control_plane.agents.worker_credentials import (
    issue_worker_credential,
    revoke_worker_credential,
)
from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.clock import Clock, as_utc
from control_plane.config import Settings
from control_plane.logs import get_logger
from control_plane.store.uow import unit_of_work

_log = get_logger("control_plane.agents.supervisor")

KILL_AFTER_SECONDS: Final = 10.0
SUPERVISOR_ACTOR: Final = "control-plane:supervisor"


def _kill_group(pid: int) -> None:
    # The worker leads its own process group (start_new_session): its job processes too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


@dataclass
class _Slot:
    index: int
    worker_id: str
    credential_file: Path
    process: asyncio.subprocess.Process | None = None
    jti: str | None = None
    expires_at: datetime | None = None
    started_at: datetime | None = None
    started_mono: float = 0.0
    launches: int = 0
    failures: int = 0
    next_start_mono: float = 0.0
    status: str = "starting"
    terminating_since: float | None = None


@dataclass(frozen=True)
class SlotView:
    """What the supervisor itself knows about a slot (for the CLI and tests)."""

    worker_id: str
    pid: int | None
    status: str
    restarts: int


class Supervisor:
    """Owns the worker processes of this control plane process (lifespan or CLI)."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        credential_key: bytes,
        settings: Settings,
        clock: Clock,
        internal_url: str | None = None,
        command: Sequence[str] | None = None,
        cwd: Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        check_agent_settings(settings)
        self._engine = engine
        self._credential_key = credential_key  # signs worker credentials; nothing else
        self._settings = settings
        self._agents = settings.agents
        self._clock = clock
        self._internal_url = internal_url or default_internal_url(settings)
        self._command = tuple(command or (sys.executable, "-m", WORKER_MODULE))
        self._cwd = cwd
        self._environ = dict(os.environ if environ is None else environ)
        self._dir = settings.server.var_dir / "agents"
        self.supervisor_id = f"{socket.gethostname()[:48]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._slots: list[_Slot] = []
        self._wakeup = asyncio.Event()
        self._monitor: asyncio.Task[None] | None = None
        self._waiters: set[asyncio.Task[None]] = set()

    @property
    def credential_dir(self) -> Path:
        return self._dir

    def slots(self) -> list[SlotView]:
        return [
            SlotView(
                worker_id=s.worker_id,
                pid=s.process.pid if s.process and s.process.returncode is None else None,
                status=s.status,
                restarts=max(0, s.launches - 1),
            )
            for s in self._slots
        ]

    async def start(self) -> None:
        """Register the slots, launch every worker, start the health loop."""
        self._dir.mkdir(parents=True, exist_ok=True)
        self._dir.chmod(0o700)
        now = self._clock()
        async with unit_of_work(self._engine) as tx:
            for index in range(self._agents.workers):
                worker_id = f"wrk_{secrets.token_hex(8)}"
                self._slots.append(_Slot(index, worker_id, self._dir / f"{worker_id}.credential"))
                await register_worker(
                    tx,
                    worker_id=worker_id,
                    supervisor_id=self.supervisor_id,
                    slot=index,
                    agent_name=self._agents.agent_name,
                    now=now,
                )
        for slot in self._slots:
            await self._launch(slot)
        self._monitor = asyncio.create_task(self._run(), name="agents.supervisor")
        _log.info("agent.supervisor_started", count=len(self._slots), worker=self.supervisor_id)

    async def stop(self) -> None:
        """Drain: SIGTERM each worker, wait for them, kill what is left, revoke, record."""
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None
        running = [s for s in self._slots if s.process and s.process.returncode is None]
        for slot in running:
            assert slot.process is not None
            with contextlib.suppress(ProcessLookupError):
                slot.process.send_signal(signal.SIGTERM)
        waits = [asyncio.create_task(s.process.wait()) for s in running if s.process]
        killed = 0
        if waits:
            _, pending = await asyncio.wait(waits, timeout=self._agents.drain_timeout_seconds)
            killed = len(pending)
        for slot in self._slots:
            if slot.process is not None:
                _kill_group(slot.process.pid)
                await slot.process.wait()
        for task in self._waiters:
            task.cancel()
        now = self._clock()
        async with unit_of_work(self._engine) as tx:
            for slot in self._slots:
                if slot.jti is not None:
                    await revoke_worker_credential(tx, jti=slot.jti, now=now)
            await record_workers_stopped(tx, worker_ids=[s.worker_id for s in self._slots], now=now)
            await self._audit(
                tx,
                now=now,
                reason="workers drained" if not killed else "workers drained, some killed",
                details={"workers": len(self._slots), "killed": killed},
            )
        for slot in self._slots:
            with contextlib.suppress(OSError):
                slot.credential_file.unlink()
        _log.info("agent.supervisor_stopped", count=len(self._slots), reason=f"killed {killed}")

    async def _run(self) -> None:
        while True:
            try:
                await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a process edge: log, keep supervising
                _log.error("agent.supervisor_tick_failed", error_code=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._agents.health_interval_seconds)
            self._wakeup.clear()

    async def _tick(self) -> None:
        async with unit_of_work(self._engine) as tx:
            rows = {r.id: r for r in await list_supervised(tx, supervisor_id=self.supervisor_id)}
        for slot in self._slots:
            if slot.process is not None and slot.process.returncode is not None:
                await self._on_exit(slot, slot.process.returncode)
            if slot.process is None:
                if time.monotonic() >= slot.next_start_mono:
                    await self._launch(slot)
                continue
            if slot.terminating_since is not None:
                if time.monotonic() - slot.terminating_since > KILL_AFTER_SECONDS:
                    _kill_group(slot.process.pid)
                continue
            row = rows.get(slot.worker_id)
            heartbeat = row.last_heartbeat_at if row is not None else None
            await self._check_health(slot, as_utc(heartbeat) if heartbeat else None)
            if slot.process is not None and slot.terminating_since is None:
                await self._maybe_rotate(slot)

    async def _launch(self, slot: _Slot) -> None:
        now = self._clock()
        ttl = timedelta(seconds=self._agents.credential_ttl_seconds)
        async with unit_of_work(self._engine) as tx:
            token, claims = await issue_worker_credential(
                tx, key=self._credential_key, worker_id=slot.worker_id, ttl=ttl, now=now
            )
        write_credential_file(slot.credential_file, token)
        env = worker_environment(
            settings=self._settings,
            internal_url=self._internal_url,
            worker_id=slot.worker_id,
            credential_file=slot.credential_file,
            environ=self._environ,
        )
        try:
            process = await asyncio.create_subprocess_exec(
                *self._command,
                env=env,
                cwd=self._cwd,
                stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            _log.error(
                "agent.worker_launch_failed", worker=slot.worker_id, error_code=type(exc).__name__
            )
            async with unit_of_work(self._engine) as tx:
                await revoke_worker_credential(tx, jti=claims.jti, now=now)
            self._schedule_restart(slot, uptime=0.0)
            return
        slot.process, slot.jti, slot.expires_at = process, claims.jti, claims.expires_at
        slot.started_at, slot.started_mono = now, time.monotonic()
        slot.terminating_since, slot.status = None, "starting"
        slot.launches += 1
        async with unit_of_work(self._engine) as tx:
            await record_worker_started(
                tx,
                worker_id=slot.worker_id,
                pid=process.pid,
                credential_jti=claims.jti,
                credential_expires_at=claims.expires_at,
                restarts=slot.launches - 1,
                now=now,
            )
            await self._audit(
                tx,
                now=now,
                target=slot.worker_id,
                reason="worker started" if slot.launches == 1 else "worker restarted",
                details={"pid": process.pid, "restarts": slot.launches - 1, "slot": slot.index},
            )
        waiter = asyncio.create_task(self._wait(process), name="agents.worker_wait")
        self._waiters.add(waiter)
        waiter.add_done_callback(self._waiters.discard)
        _log.info("agent.worker_started", worker=slot.worker_id, count=slot.launches)

    async def _wait(self, process: asyncio.subprocess.Process) -> None:
        await process.wait()
        self._wakeup.set()

    async def _on_exit(self, slot: _Slot, code: int) -> None:
        assert slot.process is not None
        pid = slot.process.pid
        _kill_group(pid)
        uptime = time.monotonic() - slot.started_mono
        slot.process = None
        now = self._clock()
        delay = self._schedule_restart(slot, uptime=uptime)
        async with unit_of_work(self._engine) as tx:
            if slot.jti is not None:
                await revoke_worker_credential(tx, jti=slot.jti, now=now)
            await record_worker_state(
                tx,
                worker_id=slot.worker_id,
                status="backoff",
                process_alive=False,
                exit_code=code,
                now=now,
            )
            await self._audit(
                tx,
                now=now,
                target=slot.worker_id,
                outcome=Outcome.FAILURE,
                reason="worker exited; restart scheduled",
                details={
                    "pid": pid,
                    "exit_code": code,
                    "uptime_s": round(uptime, 1),
                    "restart_in_s": round(delay, 2),
                },
            )
        slot.jti = None
        _log.warning(
            "agent.worker_exited",
            worker=slot.worker_id,
            status_code=code,
            duration_ms=int(delay * 1000),
        )

    def _schedule_restart(self, slot: _Slot, *, uptime: float) -> float:
        if uptime >= self._agents.stable_after_seconds:
            slot.failures = 0
        delay = restart_delay(
            slot.failures,
            base=self._agents.restart_backoff_seconds,
            cap=self._agents.restart_backoff_max_seconds,
        )
        slot.failures += 1
        slot.next_start_mono = time.monotonic() + delay
        slot.status = "backoff"
        return delay

    async def _check_health(self, slot: _Slot, heartbeat: datetime | None) -> None:
        assert slot.process is not None
        assert slot.started_at is not None
        now = self._clock()
        uptime = time.monotonic() - slot.started_mono
        fresh = heartbeat is not None and heartbeat >= slot.started_at
        if fresh and heartbeat is not None:
            silent = (now - heartbeat).total_seconds()
            healthy = silent <= self._agents.heartbeat_timeout_seconds
        else:
            silent = uptime
            healthy = uptime <= self._agents.startup_grace_seconds
        if healthy:
            if fresh and slot.status != "running":
                slot.status = "running"
                async with unit_of_work(self._engine) as tx:
                    await record_worker_state(
                        tx, worker_id=slot.worker_id, status="running", now=now
                    )
            return
        # Alive but silent: it cannot serve jobs we can vouch for. Terminate, then restart.
        slot.status = "unhealthy"
        slot.terminating_since = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            slot.process.send_signal(signal.SIGTERM)
        async with unit_of_work(self._engine) as tx:
            await record_worker_state(tx, worker_id=slot.worker_id, status="unhealthy", now=now)
            await self._audit(
                tx,
                now=now,
                target=slot.worker_id,
                outcome=Outcome.FAILURE,
                reason="worker unhealthy (no heartbeat); terminated for restart",
                details={"pid": slot.process.pid, "silent_s": round(silent, 1)},
            )
        _log.warning(
            "agent.worker_unhealthy", worker=slot.worker_id, duration_ms=int(silent * 1000)
        )

    async def _maybe_rotate(self, slot: _Slot) -> None:
        if slot.expires_at is None or slot.jti is None:
            return
        now = self._clock()
        ttl = timedelta(seconds=self._agents.credential_ttl_seconds)
        if now < as_utc(slot.expires_at) - ttl / 3:
            return
        # Record the new credential, then hand it over, then revoke the old one: there is
        # no moment when the file holds a credential the store does not accept.
        async with unit_of_work(self._engine) as tx:
            token, claims = await issue_worker_credential(
                tx, key=self._credential_key, worker_id=slot.worker_id, ttl=ttl, now=now
            )
            await record_credential_rotated(
                tx,
                worker_id=slot.worker_id,
                credential_jti=claims.jti,
                expires_at=claims.expires_at,
                now=now,
            )
        write_credential_file(slot.credential_file, token)
        old, slot.jti, slot.expires_at = slot.jti, claims.jti, claims.expires_at
        async with unit_of_work(self._engine) as tx:
            await revoke_worker_credential(tx, jti=old, now=now)
            await self._audit(
                tx, now=now, target=slot.worker_id, reason="worker credential rotated"
            )
        _log.info("agent.worker_credential_rotated", worker=slot.worker_id)

    async def _audit(
        self,
        tx: AsyncSession,
        *,
        now: datetime,
        reason: str,
        target: str | None = None,
        outcome: Outcome = Outcome.SUCCESS,
        details: Mapping[str, object] | None = None,
    ) -> None:
        await append_audit(
            tx,
            event=AuditEvent(
                type=AuditEventType.AGENT_WORKER,
                outcome=outcome,
                actor=SUPERVISOR_ACTOR,
                target=target or self.supervisor_id,
                reason=reason,
                details={"supervisor": self.supervisor_id, **(details or {})},
            ),
            now=now,
        )
