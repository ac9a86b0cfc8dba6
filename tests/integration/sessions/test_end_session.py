"""Ending a session answers with the documented contract on both backends, also when the
end is read back from the store (an already ended session)."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.support.app import RunningApp
from tests.support.harness import HarnessEnv
from tests.support.idp import get_access_token

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_ended_at_keeps_its_utc_offset_when_read_back_from_the_store(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    tokens = get_access_token(harness_env, "alice", "alice-password")
    headers = {"Authorization": f"Bearer {tokens.access_token}"}
    created = await live_app.client.post("/v1/sessions", json={}, headers=headers)
    assert created.status_code == 201, created.text
    url = f"/v1/sessions/{created.json()['session_id']}/end"

    first = await live_app.client.post(url, headers=headers)
    again = await live_app.client.post(url, headers=headers)

    assert first.status_code == again.status_code == 200, again.text
    ended = [datetime.fromisoformat(r.json()["ended_at"]) for r in (first, again)]
    assert all(ts.utcoffset() is not None for ts in ended)  # RFC 3339 needs the offset
    assert ended[0] == ended[1]
