"""Rate limits on the real app: in memory and in a real Redis, trusted-proxy aware,
429 with Retry-After, every hit audited, fail closed when the store is down."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import redis
from sqlmodel import select

from control_plane.audit.tables import AuditRecord
from control_plane.store.uow import unit_of_work
from tests.support.app import RunningApp, make_settings, running_app
from tests.support.harness import HarnessEnv
from tests.support.idp import get_access_token

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _storage(kind: str, env: HarnessEnv) -> str:
    if kind == "memory":
        return "memory://"
    url = env.redis_url.rsplit("/", 1)[0] + "/3"
    redis.Redis.from_url(url).flushdb()
    return url


# CP_TEST_LIMITERS=memory runs the embedded default alone (see scripts/test).
LIMITERS = tuple(
    k.strip() for k in os.environ.get("CP_TEST_LIMITERS", "memory,redis").split(",") if k.strip()
)


@pytest.fixture(params=LIMITERS)
def limiter_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest_asyncio.fixture
async def limited_app(
    tmp_path: Path, harness_env: HarnessEnv, limiter_kind: str, request: pytest.FixtureRequest
) -> AsyncIterator[RunningApp]:
    extra: dict[str, Any] = getattr(request, "param", {})
    settings = make_settings(
        tmp_path,
        env=harness_env,
        risk={
            "storage_url": _storage(limiter_kind, harness_env),
            "mint_limit_per_subject": "3/minute",
            "auth_limit": "2/minute",
        },
        **extra,
    )
    async with running_app(settings) as app:
        yield app


async def _records(app: RunningApp, event_type: str) -> list[AuditRecord]:
    async with unit_of_work(app.state.engine) as tx:
        rows = await tx.exec(select(AuditRecord).where(AuditRecord.event_type == event_type))
        return list(rows.all())


async def test_mints_over_the_subject_limit_get_429_with_retry_after(
    limited_app: RunningApp, harness_env: HarnessEnv
) -> None:
    access = get_access_token(harness_env, "alice", "alice-password").access_token
    headers = {"Authorization": f"Bearer {access}"}
    created = await limited_app.client.post("/v1/sessions", json={}, headers=headers)
    assert created.status_code == 201
    path = f"/v1/sessions/{created.json()['session_id']}/token"
    statuses = [
        (await limited_app.client.post(path, json={}, headers=headers)).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    limited = await limited_app.client.post(path, json={}, headers=headers)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"] == "rate_limited"
    hits = await _records(limited_app, "risk.rate_limited")
    assert len(hits) == 2
    assert all(h.details["scope"] == "mint-subject" for h in hits)


async def test_login_is_limited_per_address_and_spoofed_forwarded_for_is_ignored(
    limited_app: RunningApp,
) -> None:
    statuses = [
        (
            await limited_app.client.get(
                "/auth/login", headers={"X-Forwarded-For": f"203.0.113.{i}"}
            )
        ).status_code
        for i in range(3)
    ]
    assert statuses == [302, 302, 429]


@pytest.mark.parametrize(
    "limited_app", [{"server": {"trusted_proxies": ["127.0.0.1/32"]}}], indirect=True
)
async def test_forwarded_for_from_a_trusted_proxy_separates_clients(
    limited_app: RunningApp,
) -> None:
    for i in range(3):
        response = await limited_app.client.get(
            "/auth/login", headers={"X-Forwarded-For": f"203.0.113.{i}"}
        )
        assert response.status_code == 302


async def test_an_unreachable_limiter_store_fails_closed(
    tmp_path: Path, harness_env: HarnessEnv
) -> None:
    settings = make_settings(
        tmp_path, env=harness_env, risk={"storage_url": "redis://127.0.0.1:9/0"}
    )
    async with running_app(settings) as app:
        response = await app.client.get("/auth/login")
        assert response.status_code == 503
        assert response.json()["error"] == "rate_limiter_unavailable"
