"""The worker process: register with LiveKit, heartbeat to the control plane, drain on SIGTERM.

Started by the supervisor as ``python -m control_plane.agents.worker`` (no interactive CLI):
the ``AgentServer`` is driven directly with ``run()``, ``drain()`` and ``aclose()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import sys
from collections.abc import Callable
from typing import Final

from livekit.agents import AgentServer, JobExecutorType, JobRequest, WorkerPermissions
from livekit.protocol import models

from control_plane.agents.worker.config import WorkerConfig, load_config
from control_plane.agents.worker.job import entrypoint, prewarm, request_job
from control_plane.agents.worker.pipeline import preload_plugins
from control_plane.agents.worker.reporting import (
    ControlPlaneClient,
    FileCredential,
    ReportError,
    quiet_http_logs,
)
from control_plane.errors import ConfigError
from control_plane.logs import configure_logging, get_logger

log = get_logger(__name__)

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_CONFIG: Final = 2
# The end-of-turn model preload (~250 MB per worker) is useless here: turn detection is
# always chosen explicitly (see pipeline.py).
_PRELOAD_ENV: Final = "LIVEKIT_AGENTS_PRELOAD_LOCAL_INFERENCE"
# livekit-server offers a job only to workers whose reported load is under its target load
# (0.7 unless livekit.yaml says otherwise; pkg/agent/config.go DefaultTargetLoad). At or
# over it the dispatch fails with "no servers available" while the worker stays healthy.
SERVER_TARGET_LOAD: Final = 0.7


def job_load(max_jobs: int) -> Callable[[AgentServer], float]:
    """The load to report when the CPU gate is off: job occupancy, reaching the server's
    target load exactly at ``max_jobs``. (The default reports host CPU, which on a shared
    or busy host hovers over 0.7 and silently stops all dispatch to this worker.)"""

    def load(server: AgentServer) -> float:
        return SERVER_TARGET_LOAD * len(server.active_jobs) / max_jobs

    return load


def build_server(config: WorkerConfig) -> AgentServer:
    """An ``AgentServer`` registered under an explicit agent name (no automatic dispatch)."""
    server = AgentServer(
        ws_url=config.livekit_url,
        api_key=config.livekit_api_key,
        api_secret=config.livekit_api_secret.get_secret_value(),
        # The health endpoint stays on loopback; LiveKit's default is every interface.
        host="127.0.0.1",
        port=config.http_port,
        job_executor_type=JobExecutorType.PROCESS,
        num_idle_processes=config.idle_processes,
        load_threshold=config.load_threshold,
        load_fnc=job_load(config.max_jobs) if math.isinf(config.load_threshold) else None,
        drain_timeout=config.drain_timeout_seconds,
        permissions=WorkerPermissions(
            can_publish=True,
            can_subscribe=True,
            can_publish_data=True,
            # RoomIO publishes the agent state as a participant attribute.
            can_update_metadata=True,
            can_publish_sources=[models.TrackSource.MICROPHONE],
            hidden=False,
        ),
        setup_fnc=prewarm,
        log_level=config.log_level,
    )

    async def on_request(req: JobRequest) -> None:
        await request_job(req, active_jobs=len(server.active_jobs), max_jobs=config.max_jobs)

    server.rtc_session(entrypoint, agent_name=config.agent_name, on_request=on_request)
    return server


async def heartbeat_loop(
    client: ControlPlaneClient,
    server: AgentServer,
    config: WorkerConfig,
    *,
    registered: asyncio.Event,
) -> None:
    """Every interval after registration: worker id, active jobs, agent name."""
    credential = FileCredential(config.credential_file)
    await registered.wait()
    while True:
        try:
            await client.post_heartbeat(
                credential,
                worker_id=config.worker_id,
                active_jobs=len(server.active_jobs),
                agent_name=config.agent_name,
            )
        except ReportError as exc:
            log.warning("agent.heartbeat_failed", reason=type(exc).__name__, status_code=exc.status)
        await asyncio.sleep(config.heartbeat_interval_seconds)


async def run_worker(
    config: WorkerConfig, *, stop: asyncio.Event, force: asyncio.Event | None = None
) -> int:
    """Run until ``stop`` is set, then drain current jobs and close; return the exit code.

    The drain ends when the jobs finish, after the drain timeout, or when ``force`` is set
    (a second SIGTERM); remaining jobs are then closed by ``aclose``.
    """
    server = build_server(config)
    client = ControlPlaneClient(config.internal_url)
    registered = asyncio.Event()
    server.on("worker_registered", lambda *_: registered.set())
    heartbeat = asyncio.create_task(
        heartbeat_loop(client, server, config, registered=registered), name="agent.heartbeat"
    )
    running = asyncio.create_task(server.run(devmode=False), name="agent.server")
    stopping = asyncio.create_task(stop.wait(), name="agent.stop")
    code = EXIT_OK
    try:
        done, _ = await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if running in done:
            exc = running.exception()
            log.error("agent.worker_stopped", reason=type(exc).__name__ if exc else "closed")
            code = EXIT_FAILED
        else:
            log.info("agent.draining", count=len(server.active_jobs))
            await _drain(server, config, force or asyncio.Event())
    finally:
        heartbeat.cancel()
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        await server.aclose()
        if not running.done():
            running.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await running
        await client.aclose()
    log.info("agent.worker_exited", status_code=code)
    return code


async def _drain(server: AgentServer, config: WorkerConfig, force: asyncio.Event) -> None:
    draining = asyncio.create_task(server.drain(timeout=config.drain_timeout_seconds))
    forced = asyncio.create_task(force.wait())
    await asyncio.wait({draining, forced}, return_when=asyncio.FIRST_COMPLETED)
    forced.cancel()
    if not draining.done():
        draining.cancel()
        log.warning("agent.drain_forced", count=len(server.active_jobs))
    with contextlib.suppress(asyncio.CancelledError):
        try:
            await draining
        except TimeoutError:
            log.warning("agent.drain_timeout", count=len(server.active_jobs))


async def _serve(config: WorkerConfig) -> int:
    loop = asyncio.get_running_loop()
    stop, force = asyncio.Event(), asyncio.Event()

    def on_signal() -> None:
        (force if stop.is_set() else stop).set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    return await run_worker(config, stop=stop, force=force)


def main() -> None:
    """Entry point of ``python -m control_plane.agents.worker``."""
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        configure_logging("INFO")
        log.error("agent.config_invalid", reason=str(exc))
        sys.exit(EXIT_CONFIG)
    configure_logging(config.log_level)
    quiet_http_logs()
    os.environ.setdefault(_PRELOAD_ENV, "0")
    preload_plugins(config.pipeline)
    log.info("agent.worker_starting", worker=config.worker_id, service=config.pipeline.value)
    sys.exit(asyncio.run(_serve(config)))
