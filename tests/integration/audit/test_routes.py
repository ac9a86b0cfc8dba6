"""The audit endpoints on the real app, the real IdP and the real Cedar policies: auditors
read their tenant, admins the platform-wide records, members nothing; bad filters are 422."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from control_plane.audit.jobs import run_checkpoint_step
from control_plane.audit.ocsf import is_end_marker
from tests.support.app import FrozenClock, RunningApp
from tests.support.audit import append_events, execute_sql
from tests.support.harness import HarnessEnv
from tests.support.idp import get_access_token

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def _bearer(env: HarnessEnv, user: str, *, mfa: bool = False) -> dict[str, str]:
    tokens = await asyncio.to_thread(
        get_access_token, env, user, f"{user}-password", otp="246810" if mfa else None
    )
    return {"Authorization": f"Bearer {tokens.access_token}"}


async def _seed(app: RunningApp, clock: FrozenClock) -> None:
    start = clock() - timedelta(minutes=10)
    engine = app.state.engine
    await append_events(engine, 3, start=start, tenant="acme", actor="sub_acme")
    await append_events(engine, 2, start=start, tenant="globex", actor="sub_globex")
    await append_events(engine, 2, start=start, tenant=None, actor=None)


async def test_auditor_reads_only_their_tenant_and_pages_with_a_cursor(
    live_app: RunningApp, harness_env: HarnessEnv, clock: FrozenClock
) -> None:
    await _seed(live_app, clock)
    headers = await _bearer(harness_env, "audrey")
    first = await live_app.client.get(
        "/v1/audit", params={"limit": 2, "event_type": "session.created"}, headers=headers
    )
    assert first.status_code == 200, first.text
    page = first.json()
    assert [r["seq"] for r in page["items"]] == [1, 2]
    assert page["next_after_seq"] == 2
    rest = await live_app.client.get(
        "/v1/audit",
        params={"after_seq": page["next_after_seq"], "event_type": "session.created"},
        headers=headers,
    )
    assert [r["seq"] for r in rest.json()["items"]] == [3]
    assert rest.json()["next_after_seq"] is None
    everything = (await live_app.client.get("/v1/audit", headers=headers)).json()["items"]
    assert {r["tenant"] for r in everything} == {"acme"}
    # The auditor's own reads are audited, in their tenant.
    assert any(r["event_type"] == "authz.decision" for r in everything)
    by_actor = await live_app.client.get(
        "/v1/audit", params={"actor": "sub_globex"}, headers=headers
    )
    assert by_actor.json()["items"] == []


async def test_admin_reads_only_platform_wide_records(
    live_app: RunningApp, harness_env: HarnessEnv, clock: FrozenClock
) -> None:
    await _seed(live_app, clock)
    response = await live_app.client.get(
        "/v1/audit",
        params={"event_type": "session.created"},
        headers=await _bearer(harness_env, "adam"),
    )
    assert response.status_code == 200, response.text
    assert [(r["seq"], r["tenant"]) for r in response.json()["items"]] == [(6, None), (7, None)]


async def test_members_are_refused_and_anonymous_callers_unauthenticated(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    member = await _bearer(harness_env, "alice")
    for path in ("/v1/audit", "/v1/audit/verify", "/v1/audit/export", "/v1/anomalies"):
        refused = await live_app.client.get(path, headers=member)
        assert refused.status_code == 403, (path, refused.text)
        anonymous = await live_app.client.get(path)
        assert anonymous.status_code == 401, path
        assert anonymous.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "501"},
        {"limit": "ten"},
        {"after_seq": "-1"},
        {"after_seq": str(2**70)},
        {"event_type": "no.such.event"},
        {"actor": "alice@acme.test"},
        {"actor": "x" * 129},
        {"since": "yesterday"},
        {"since": "9999-12-31T23:59:59-14:00"},
        {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        {"tenant": "globex"},
    ],
)
async def test_bad_filters_are_422_never_5xx(
    live_app: RunningApp, harness_env: HarnessEnv, params: dict[str, str]
) -> None:
    response = await live_app.client.get(
        "/v1/audit", params=params, headers=await _bearer(harness_env, "audrey")
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid"


async def test_verify_endpoint_reports_for_auditors(
    live_app: RunningApp, harness_env: HarnessEnv, clock: FrozenClock
) -> None:
    await _seed(live_app, clock)
    response = await live_app.client.get(
        "/v1/audit/verify", headers=await _bearer(harness_env, "audrey")
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["intact"] is True
    assert report["anchor"] == "genesis"
    assert report["records_checked"] >= 7
    assert (report["witnessed_checked"], report["witness_problem"]) == (0, None)
    # The checkpoint job witnesses what it signs; cutting the chain back shows in the report.
    state = live_app.state
    written = await run_checkpoint_step(
        state.engine,
        key=state.keys.audit_signing_key,
        settings=state.settings.audit,
        now=clock(),
        witness_file=state.settings.witness_file,
    )
    assert written is not None
    await execute_sql(state.engine, "DELETE FROM audit_checkpoint")
    await execute_sql(state.engine, "DELETE FROM audit_record WHERE seq > 3")
    cut = await live_app.client.get(
        "/v1/audit/verify", headers=await _bearer(harness_env, "audrey")
    )
    report = cut.json()
    assert report["intact"] is False
    assert report["witnessed_checked"] == 1
    assert report["witness_problem"]["checkpoint_id"] == written.id
    assert "gone from the database" in report["witness_problem"]["reason"]


async def test_export_needs_mfa_and_streams_ocsf_lines_with_an_end_marker(
    live_app: RunningApp, harness_env: HarnessEnv, clock: FrozenClock
) -> None:
    await _seed(live_app, clock)
    without_mfa = await live_app.client.get(
        "/v1/audit/export", headers=await _bearer(harness_env, "audrey")
    )
    assert without_mfa.status_code == 403
    headers = await _bearer(harness_env, "audrey", mfa=True)
    response = await live_app.client.get(
        "/v1/audit/export", params={"after": 1, "limit": 1}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [e["metadata"]["sequence"] for e in lines[:-1]] == [2]
    assert lines[0]["class_uid"] == 6003
    assert is_end_marker(lines[-1])
    marker = lines[-1]["unmapped"]["cp_export"]
    assert (marker["last_seq"], marker["has_more"]) == (2, True)
    rest = await live_app.client.get(
        "/v1/audit/export", params={"after": marker["last_seq"]}, headers=headers
    )
    tenants = {
        e["metadata"].get("tenant_uid") for e in map(json.loads, rest.text.splitlines()[:-1])
    }
    assert tenants == {"acme"}


async def test_a_members_mint_records_land_in_their_tenants_log(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    created = await live_app.client.post(
        "/v1/sessions", json={}, headers=await _bearer(harness_env, "alice")
    )
    assert created.status_code == 201, created.text
    params = {"event_type": "token.minted"}
    auditor = await live_app.client.get(
        "/v1/audit", params=params, headers=await _bearer(harness_env, "audrey")
    )
    [minted] = auditor.json()["items"]
    assert minted["tenant"] == "acme"
    assert minted["target"] == created.json()["session_id"]
    admin = await live_app.client.get(
        "/v1/audit", params=params, headers=await _bearer(harness_env, "adam")
    )
    assert admin.json()["items"] == []


@pytest.mark.parametrize(
    ("path", "param", "mfa"),
    [
        ("/v1/audit", "after_seq", False),
        ("/v1/audit/export", "after", True),
        ("/v1/me/data", "audit_after", False),
    ],
)
async def test_every_audit_cursor_past_32_bits_works_and_past_its_bound_is_422(
    live_app: RunningApp, harness_env: HarnessEnv, path: str, param: str, mfa: bool
) -> None:
    # The seq columns are 64-bit: a cursor past 2**31 reads nothing, on both backends
    # (PostgreSQL's 32-bit INTEGER made it a 503, or a 200 cut short mid-export).
    headers = await _bearer(harness_env, "audrey", mfa=mfa)
    for cursor in (2**31, 2**62):
        response = await live_app.client.get(path, params={param: cursor}, headers=headers)
        assert response.status_code == 200, response.text
        if path.endswith("/export"):
            lines = [json.loads(line) for line in response.text.splitlines()]
            assert len(lines) == 1
            assert is_end_marker(lines[0])
    for bad in (str(2**62 + 1), "-1", "1e3", "1.5", "true", "", "0x10"):
        response = await live_app.client.get(path, params={param: bad}, headers=headers)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["error"] == "invalid"
