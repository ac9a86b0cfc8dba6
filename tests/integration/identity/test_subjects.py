"""Subjects are created on first sight, race-safely: a new user's first requests arrive
together, on one replica or several."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import col, func, select

from control_plane.identity.tables import Subject
from control_plane.store.uow import unit_of_work
from tests.support.app import RunningApp
from tests.support.harness import HarnessEnv
from tests.support.idp import get_access_token

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_a_new_users_first_concurrent_requests_all_succeed(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    tokens = await asyncio.to_thread(get_access_token, harness_env, "audrey", "audrey-password")
    headers = {"Authorization": f"Bearer {tokens.access_token}"}
    responses = await asyncio.gather(
        *(live_app.client.get("/v1/audit", headers=headers) for _ in range(6))
    )
    # Each request inserts the subject with ON CONFLICT DO NOTHING, then reads it: the
    # losers of the race were a 503 (a primary-key violation) before.
    assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses]
    async with unit_of_work(live_app.state.engine) as tx:
        count = (await tx.exec(select(func.count()).select_from(Subject))).one()
        tenants = (await tx.exec(select(col(Subject.tenant)))).all()
    assert count == 1
    assert tenants == ["acme"]
