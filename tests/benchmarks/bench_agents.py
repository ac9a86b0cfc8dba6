"""Time from `POST /v1/sessions` (with_agent) to the agent in the room, as the user sees it.

A real `control-plane serve` supervises 1, then 2, voice agent workers (offline pipeline,
the agents' own LiveKit key). For each session: create it with an agent (Cedar decision,
session credential, LiveKit dispatch), connect a real rtc client with the owner's token,
and stop the clock when a participant of kind AGENT is connected in the room. Then end
the session. p50/p99 (nearest rank) over 20 sessions per fleet size, after 2 warm-ups.

    .venv/bin/python -m tests.benchmarks.bench_agents [--sessions 20] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.benchmarks.common import control_plane_env, print_table, served
from tests.support.agent_client import AgentClient
from tests.support.harness import HarnessEnv, ensure_services
from tests.support.idp import get_access_token

PORT = 18797
READY_TIMEOUT = 240.0
JOIN_TIMEOUT = 60.0
WARMUP = 2


@dataclass(frozen=True)
class Sample:
    total_ms: float  # POST -> agent participant seen by the client
    post_ms: float  # POST /v1/sessions round trip (decision, room, credential, dispatch)
    connect_ms: float  # rtc connect of the user


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def _bearer(env: HarnessEnv, user: str) -> dict[str, str]:
    token = get_access_token(env, user, f"{user}-password").access_token
    return {"Authorization": f"Bearer {token}"}


async def _wait_ready(http: httpx.AsyncClient, auditor: dict[str, str], workers: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        fleet = (await http.get("/v1/agents", headers=auditor)).json().get("workers", [])
        if len(fleet) == workers and all(w["status"] == "running" for w in fleet):
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"{workers} worker(s) not running after {READY_TIMEOUT:.0f}s")


async def _one(http: httpx.AsyncClient, owner: dict[str, str]) -> Sample:
    started = time.perf_counter()
    response = await http.post("/v1/sessions", json={"with_agent": True}, headers=owner)
    response.raise_for_status()
    posted = time.perf_counter()
    body = response.json()
    if body["agent"] is None:
        raise RuntimeError(f"no agent: {body['agent_reason']}")
    client = await AgentClient.connect(body["livekit_url"], body["token"])
    connected = time.perf_counter()
    try:
        await client.wait_for_agent(JOIN_TIMEOUT)
        joined = time.perf_counter()
    finally:
        await client.aclose()
        await http.post(f"/v1/sessions/{body['session_id']}/end", headers=owner)
    return Sample(
        total_ms=(joined - started) * 1000,
        post_ms=(posted - started) * 1000,
        connect_ms=(connected - posted) * 1000,
    )


async def _run(base: str, env: HarnessEnv, *, workers: int, sessions: int) -> list[Sample]:
    owner = await asyncio.to_thread(_bearer, env, "alice")
    auditor = await asyncio.to_thread(_bearer, env, "audrey")
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        await _wait_ready(http, auditor, workers)
        samples = []
        for index in range(WARMUP + sessions):
            sample = await _one(http, owner)
            if index >= WARMUP:
                samples.append(sample)
            await asyncio.sleep(0.3)  # let the ended job leave its worker
        return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    env = ensure_services(["livekit", "idp"])
    rows: list[list[str]] = []
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            environment = control_plane_env(
                env,
                Path(tmp),
                CONTROL_PLANE_AGENTS__WORKERS=str(workers),
                # A unique name: no other worker on the shared server takes these jobs.
                CONTROL_PLANE_AGENTS__AGENT_NAME=f"big-mama-bench-{secrets.token_hex(3)}",
                CONTROL_PLANE_AGENTS__LIVEKIT_API_KEY=env.livekit_agent_key,
                CONTROL_PLANE_AGENTS__LIVEKIT_API_SECRET=env.livekit_agent_secret,
                CONTROL_PLANE_AGENTS__PIPELINE="offline",
                # The CPU load gate would refuse jobs on a busy 2-core machine.
                CONTROL_PLANE_AGENTS__LOAD_THRESHOLD="inf",
                CONTROL_PLANE_AGENTS__HEARTBEAT_INTERVAL_SECONDS="1",
                CONTROL_PLANE_WEBHOOKS__UNKNOWN_ROOMS="audit",
                CONTROL_PLANE_RISK__MINT_LIMIT_PER_SUBJECT="100000/minute",
                CONTROL_PLANE_RISK__MINT_LIMIT_PER_ADDRESS="100000/minute",
                CONTROL_PLANE_RISK__RESPONSES='{"mint_rate": "alert", "session_fanout": "alert"}',
            )
            with served(environment, port=PORT) as base:
                samples = asyncio.run(_run(base, env, workers=workers, sessions=args.sessions))
        totals = [s.total_ms for s in samples]
        rows.append(
            [
                str(workers),
                str(len(samples)),
                f"{_pct(totals, 50):.0f}",
                f"{_pct(totals, 99):.0f}",
                f"{_pct([s.post_ms for s in samples], 50):.0f}",
                f"{_pct([s.connect_ms for s in samples], 50):.0f}",
            ]
        )
    print_table(
        "Agent join benchmark: POST /v1/sessions (with_agent) -> AGENT participant seen by the "
        "client; offline pipeline, loopback, SQLite, real control-plane serve",
        [
            "workers",
            "sessions",
            "join p50 ms",
            "join p99 ms",
            "POST p50 ms",
            "rtc connect p50 ms",
        ],
        rows,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
