"""Turn metrics intake and the session metrics view, on both backends: real app, real IdP
bearer tokens, real session-bound worker credentials, real Cedar decisions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlmodel import func, select

from control_plane.agents.tables import TurnMetric
from control_plane.agents.worker_credentials import issue_worker_credential
from control_plane.privacy.retention import run_retention
from control_plane.store.uow import unit_of_work
from tests.integration.privacy.support import bearer, create_session, worker_credential
from tests.support.app import FrozenClock, RunningApp, make_settings, running_app
from tests.support.harness import HarnessEnv

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


@pytest_asyncio.fixture
async def app(
    tmp_path: Path, database_url: str, harness_env: HarnessEnv, clock: FrozenClock
) -> AsyncIterator[RunningApp]:
    settings = make_settings(
        tmp_path, database_url=database_url, env=harness_env, privacy={"jobs_enabled": False}
    )
    async with running_app(settings, clock=clock) as running:
        yield running


def _turn(turn_id: str, e2e: float, **extra: Any) -> dict[str, Any]:
    # Any: a JSON turn as the worker sends it (agents/worker/turns.py).
    return {
        "turn_id": turn_id,
        "eou_delay_ms": None,
        "llm_ttft_ms": 12.5,
        "tts_ttfb_ms": 30,
        "time_to_first_audio_ms": e2e - 5,
        "e2e_response_ms": e2e,
        "tool_calls": [],
        "interrupted": False,
        "reconnects": 0,
        **extra,
    }


async def _post(app: RunningApp, session_id: str, credential: str | None, body: bytes) -> Any:
    # Any: an httpx response.
    headers = {"content-type": "application/json"}
    if credential is not None:
        headers["Authorization"] = f"Bearer {credential}"
    return await app.client.post(
        f"/internal/v1/sessions/{session_id}/metrics", content=body, headers=headers
    )


async def _stored(app: RunningApp) -> int:
    async with unit_of_work(app.state.engine) as tx:
        return int((await tx.exec(select(func.count()).select_from(TurnMetric))).one())


async def test_worker_reports_turns_and_readers_get_p50_p95(
    app: RunningApp, harness_env: HarnessEnv
) -> None:
    alice = bearer(harness_env, "alice")
    session = await create_session(app, alice)
    sid = session["session_id"]
    credential = await worker_credential(app, sid)
    turns = [
        _turn("t1", 400.0, tool_calls=[{"name": "escalate", "duration_ms": 80}]),
        _turn("t2", 600.0, interrupted=True, reconnects=1),
        _turn("t3", 1000.0),
    ]
    body = json.dumps({"turns": turns}).encode()
    first = await _post(app, sid, credential, body)
    assert first.status_code == 201, first.text
    assert first.json() == {"session_id": sid, "received": 3, "stored": 3}
    # A retried report (the worker never saw the 201) stores and counts nothing twice.
    again = await _post(app, sid, credential, body)
    assert again.json()["stored"] == 0

    view = await app.client.get(f"/v1/sessions/{sid}/metrics", headers=alice)
    assert view.status_code == 200, view.text
    summary = view.json()
    assert (summary["turns"], summary["interrupted"], summary["reconnects"]) == (3, 1, 1)
    assert summary["tool_calls"] == 1
    e2e = summary["latencies"]["e2e_response_ms"]
    assert (e2e["count"], e2e["p50"], e2e["p95"], e2e["max"]) == (3, 600.0, 1000.0, 1000.0)
    assert summary["latencies"]["eou_delay_ms"] == {
        "count": 0,
        "p50": None,
        "p95": None,
        "max": None,
    }
    assert summary["latencies"]["tool_call_ms"]["p50"] == 80.0
    assert [t["turn_id"] for t in summary["items"]] == ["t1", "t2", "t3"]

    exported = (await app.client.get("/metrics")).text
    assert 'cp_agent_turn_latency_seconds_count{stage="e2e_response"} 3.0' in exported
    assert "cp_agent_tool_call_seconds_count 1.0" in exported
    assert 'cp_agent_turns_total{interrupted="true"} 1.0' in exported

    # read_session: the owner and the tenant's auditors; not another member, not another
    # tenant.
    assert (
        await app.client.get(f"/v1/sessions/{sid}/metrics", headers=bearer(harness_env, "audrey"))
    ).status_code == 200
    for user in ("carol", "bob"):
        denied = await app.client.get(
            f"/v1/sessions/{sid}/metrics", headers=bearer(harness_env, user)
        )
        assert denied.status_code == 403, user
    assert (await app.client.get(f"/v1/sessions/{sid}/metrics")).status_code == 401
    missing = await app.client.get("/v1/sessions/ses_nope/metrics", headers=alice)
    assert missing.status_code == 404


BAD_BODIES: list[tuple[str, bytes]] = [
    ("negative", json.dumps({"turns": [_turn("a", -1.0)]}).encode()),
    ("nan", b'{"turns": [{"turn_id": "a", "e2e_response_ms": NaN}]}'),
    ("infinity", b'{"turns": [{"turn_id": "a", "llm_ttft_ms": Infinity}]}'),
    ("over a day", json.dumps({"turns": [_turn("a", 86_400_001.0)]}).encode()),
    ("number as string", json.dumps({"turns": [_turn("a", 1.0, tts_ttfb_ms="12")]}).encode()),
    ("bool as string", json.dumps({"turns": [_turn("a", 1.0, interrupted="yes")]}).encode()),
    ("negative reconnects", json.dumps({"turns": [_turn("a", 1.0, reconnects=-1)]}).encode()),
    ("too many turns", json.dumps({"turns": [_turn(f"t{i}", 1.0) for i in range(101)]}).encode()),
    (
        "too many tool calls",
        json.dumps(
            {"turns": [_turn("a", 1.0, tool_calls=[{"name": "x", "duration_ms": 1}] * 33)]}
        ).encode(),
    ),
    (
        "negative tool call",
        json.dumps(
            {"turns": [_turn("a", 1.0, tool_calls=[{"name": "x", "duration_ms": -5}])]}
        ).encode(),
    ),
    (
        "bad tool name",
        json.dumps(
            {"turns": [_turn("a", 1.0, tool_calls=[{"name": "a b", "duration_ms": 1}])]}
        ).encode(),
    ),
    ("unknown field", json.dumps({"turns": [_turn("a", 1.0, transcript="hi")]}).encode()),
    ("no turns", b'{"turns": []}'),
    ("not a list", b'{"turns": {"turn_id": "a"}}'),
    ("turn id with spaces", json.dumps({"turns": [_turn("a b", 1.0)]}).encode()),
    ("missing turn id", b'{"turns": [{"e2e_response_ms": 1}]}'),
]


async def test_bad_metrics_are_refused_with_422_and_nothing_is_stored(
    app: RunningApp, harness_env: HarnessEnv
) -> None:
    session = await create_session(app, bearer(harness_env, "alice"))
    sid = session["session_id"]
    credential = await worker_credential(app, sid)
    for name, body in BAD_BODIES:
        response = await _post(app, sid, credential, body)
        assert response.status_code == 422, (name, response.text)
        assert response.json()["error"] == "invalid", name
        assert "Infinity" not in response.text
    assert await _stored(app) == 0


async def test_only_a_credential_bound_to_that_session_may_write(
    app: RunningApp, harness_env: HarnessEnv
) -> None:
    alice = bearer(harness_env, "alice")
    mine = (await create_session(app, alice))["session_id"]
    other = (await create_session(app, alice))["session_id"]
    body = json.dumps({"turns": [_turn("a", 10.0)]}).encode()
    other_credential = await worker_credential(app, other)
    assert (await _post(app, mine, None, body)).status_code == 401
    assert (await _post(app, mine, "not-a-credential", body)).status_code == 401
    # The user's own IdP token is no worker credential.
    assert (await _post(app, mine, alice["Authorization"][7:], body)).status_code == 401
    # A worker *process* credential names no session: it writes nothing.
    async with unit_of_work(app.state.engine) as tx:
        process_token, _ = await issue_worker_credential(
            tx,
            key=app.state.keys.worker_credential_key,
            worker_id="wrk_test",
            ttl=timedelta(minutes=5),
            now=app.state.clock(),
        )
    assert (await _post(app, mine, process_token, body)).status_code == 401
    crossed = await _post(app, mine, other_credential, body)
    assert crossed.status_code == 403
    assert crossed.json()["error"] == "credential_session_mismatch"
    assert await _stored(app) == 0
    # Ending the session revokes its agent credentials at once.
    ended = await app.client.post(f"/v1/sessions/{other}/end", headers=alice)
    assert ended.status_code == 200, ended.text
    assert (await _post(app, other, other_credential, body)).status_code == 401


async def test_metrics_are_purged_when_their_retention_ends(
    app: RunningApp, harness_env: HarnessEnv, clock: FrozenClock
) -> None:
    session = await create_session(app, bearer(harness_env, "alice"))
    sid = session["session_id"]
    credential = await worker_credential(app, sid)
    body = json.dumps({"turns": [_turn("a", 10.0), _turn("b", 20.0)]}).encode()
    assert (await _post(app, sid, credential, body)).status_code == 201
    period = timedelta(seconds=app.state.settings.retention.metrics_seconds)
    retention = app.state.settings.retention
    kept = await run_retention(
        app.state.engine, settings=retention, now=clock() + period - timedelta(seconds=1)
    )
    assert "metrics" not in kept.counts
    assert await _stored(app) == 2
    purged = await run_retention(app.state.engine, settings=retention, now=clock() + period)
    assert purged.counts["metrics"] == {"turn_metric": 2}
    assert await _stored(app) == 0
