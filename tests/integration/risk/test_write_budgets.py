"""Writes caused by anonymous input are bounded (T-DOS-3): a flood of logins or bogus
callbacks from one address is refused every time, but only a budget of it reaches the
audit chain (each record takes the chain lock). Real app and IdP, both backends."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import select

from control_plane.audit.tables import AuditRecord
from control_plane.config import Settings
from control_plane.store.uow import unit_of_work
from tests.support.app import FrozenClock, RunningApp, make_settings, running_app
from tests.support.harness import HarnessEnv

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

FLOOD = 200
AUTH_LIMIT = 30
REFUSAL_BUDGET = 10


async def _record_counts(app: RunningApp) -> Counter[str]:
    async with unit_of_work(app.state.engine) as tx:
        return Counter(r.event_type for r in (await tx.exec(select(AuditRecord))).all())


def _settings(tmp_path: Path, database_url: str, env: HarnessEnv) -> Settings:
    limits = {
        "auth_limit": f"{AUTH_LIMIT}/minute",
        "refusal_audit_limit": f"{REFUSAL_BUDGET}/minute",
    }
    return make_settings(tmp_path, database_url=database_url, env=env, risk=limits)


async def test_a_login_flood_is_refused_but_audited_only_up_to_the_refusal_budget(
    tmp_path: Path, database_url: str, harness_env: HarnessEnv, clock: FrozenClock
) -> None:
    settings = _settings(tmp_path, database_url, harness_env)
    async with running_app(settings, clock=clock) as app:
        statuses = Counter(
            [(await app.client.get("/auth/login")).status_code for _ in range(FLOOD)]
        )
        assert statuses == {302: AUTH_LIMIT, 429: FLOOD - AUTH_LIMIT}
        counts = await _record_counts(app)
    assert counts["risk.rate_limited"] == REFUSAL_BUDGET
    assert sum(counts.values()) == REFUSAL_BUDGET


async def test_a_bogus_callback_flood_is_audited_within_the_auth_limit_and_the_budget(
    tmp_path: Path, database_url: str, harness_env: HarnessEnv, clock: FrozenClock
) -> None:
    settings = _settings(tmp_path, database_url, harness_env)
    async with running_app(settings, clock=clock) as app:
        statuses = Counter(
            [
                (
                    await app.client.get(
                        "/auth/callback", params={"code": f"bogus-{n}", "state": f"forged-{n}"}
                    )
                ).status_code
                for n in range(FLOOD)
            ]
        )
        assert statuses == {401: AUTH_LIMIT, 429: FLOOD - AUTH_LIMIT}
        counts = await _record_counts(app)
    assert counts["auth.login_failed"] == AUTH_LIMIT
    assert counts["risk.rate_limited"] == REFUSAL_BUDGET
    # At most one anomaly (failures per address cross the threshold once per window).
    assert sum(counts.values()) <= AUTH_LIMIT + REFUSAL_BUDGET + 1
