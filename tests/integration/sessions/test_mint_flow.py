"""The mint path end to end on the real IdP, real Cedar policies, real LiveKit and both
database backends."""

from __future__ import annotations

import jwt
import pytest
from livekit import api

from tests.support.app import RunningApp
from tests.support.harness import HarnessEnv
from tests.support.idp import get_access_token

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _bearer(env: HarnessEnv, user: str) -> dict[str, str]:
    tokens = get_access_token(env, user, f"{user}-password")
    return {"Authorization": f"Bearer {tokens.access_token}"}


async def test_member_creates_session_and_gets_least_privilege_token(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    response = await live_app.client.post(
        "/v1/sessions", json={}, headers=_bearer(harness_env, "alice")
    )
    assert response.status_code == 201, response.text
    body = response.json()
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    video = claims["video"]
    assert video["room"] == body["room"]
    assert video["canPublishSources"] == ["microphone"]
    assert video["canSubscribe"] is True
    assert video["canPublishData"] is True
    for admin_grant in ("roomAdmin", "roomCreate", "roomList", "roomRecord", "agent", "hidden"):
        assert video[admin_grant] is False
    assert claims["kind"] == "standard"
    assert claims["sub"] == body["identity"]
    assert claims["exp"] - claims["nbf"] == 120
    assert claims["attributes"]["cp.tid"] == body["token_id"]
    # The server API sees the room we created.
    async with api.LiveKitAPI(
        harness_env.livekit_url, harness_env.livekit_api_key, harness_env.livekit_api_secret
    ) as lk:
        rooms = await lk.room.list_rooms(api.ListRoomsRequest(names=[body["room"]]))
        assert [r.name for r in rooms.rooms] == [body["room"]]
