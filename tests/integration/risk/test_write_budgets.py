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
# The limiter's windows follow the wall clock: a flood may straddle one boundary and see
# two windows' allowance, never more. Bounds, not exact counts, so no timing matters.
WINDOWS = 2


async def _record_counts(app: RunningApp) -> Counter[str]:
    async with unit_of_work(app.state.engine) as tx:
        return Counter(r.event_type for r in (await tx.exec(select(AuditRecord))).all())


def _settings(tmp_path: Path, database_url: str, env: HarnessEnv) -> Settings:
    limits = {
        "auth_limit": f"{AUTH_LIMIT}/hour",
        "refusal_audit_limit": f"{REFUSAL_BUDGET}/hour",
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
        assert AUTH_LIMIT <= statuses[302] <= WINDOWS * AUTH_LIMIT
        assert statuses[302] + statuses[429] == FLOOD
        counts = await _record_counts(app)
    assert REFUSAL_BUDGET <= counts["risk.rate_limited"] <= WINDOWS * REFUSAL_BUDGET
    assert sum(counts.values()) == counts["risk.rate_limited"]


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
        assert AUTH_LIMIT <= statuses[401] <= WINDOWS * AUTH_LIMIT
        assert statuses[401] + statuses[429] == FLOOD
        counts = await _record_counts(app)
    assert counts["auth.login_failed"] == statuses[401]
    assert REFUSAL_BUDGET <= counts["risk.rate_limited"] <= WINDOWS * REFUSAL_BUDGET
    # Anomalies: failures per address cross the detector's threshold once per window.
    assert sum(counts.values()) <= WINDOWS * (AUTH_LIMIT + REFUSAL_BUDGET + 1)
