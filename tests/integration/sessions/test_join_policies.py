"""Who may join what: Cedar decides on the real policies, LiveKit enforces the grants."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from livekit import api, rtc
from sqlmodel import select

from control_plane.store.uow import unit_of_work
from control_plane.tokens.tables import MintLedger
from tests.support.app import RunningApp
from tests.support.audit import fail_audit_inserts
from tests.support.harness import HarnessEnv
from tests.support.idp import get_access_token
from tests.support.rtc import connect, is_video_publish_refused, publish_audio, publish_video

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _auth(env: HarnessEnv, user: str) -> dict[str, str]:
    token = get_access_token(env, user, f"{user}-password").access_token
    return {"Authorization": f"Bearer {token}"}


async def _create(
    app: RunningApp, env: HarnessEnv, user: str = "alice", **body: Any
) -> dict[str, Any]:
    response = await app.client.post("/v1/sessions", json=body, headers=_auth(env, user))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_uninvited_and_cross_tenant_users_are_denied(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    session = await _create(live_app, harness_env)
    path = f"/v1/sessions/{session['session_id']}/token"
    carol = await live_app.client.post(path, json={}, headers=_auth(harness_env, "carol"))
    assert carol.status_code == 403
    assert carol.json()["error"] == "access_denied"
    bob = await live_app.client.post(path, json={}, headers=_auth(harness_env, "bob"))
    assert bob.status_code == 403


async def test_invite_admits_a_same_tenant_member_only(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    session = await _create(live_app, harness_env)
    sid = session["session_id"]
    invites = f"/v1/sessions/{sid}/invites"
    # Only the owner may invite.
    assert (
        await live_app.client.post(invites, headers=_auth(harness_env, "carol"))
    ).status_code == 403
    invite = (await live_app.client.post(invites, headers=_auth(harness_env, "alice"))).json()
    # Another tenant cannot use it.
    bob = await live_app.client.post(
        f"/v1/sessions/{sid}/token",
        json={"invite": invite["invite"]},
        headers=_auth(harness_env, "bob"),
    )
    assert bob.status_code == 403
    carol = await live_app.client.post(
        f"/v1/sessions/{sid}/token",
        json={"invite": invite["invite"]},
        headers=_auth(harness_env, "carol"),
    )
    assert carol.status_code == 200, carol.text
    assert carol.json()["identity"] != session["identity"]
    # Single use.
    again = await live_app.client.post(
        f"/v1/sessions/{sid}/token",
        json={"invite": invite["invite"]},
        headers=_auth(harness_env, "carol"),
    )
    assert again.status_code == 422


@pytest.mark.parametrize("user", ["eve", "audrey"])
async def test_unverified_email_and_auditors_cannot_create_sessions(
    live_app: RunningApp, harness_env: HarnessEnv, user: str
) -> None:
    response = await live_app.client.post("/v1/sessions", json={}, headers=_auth(harness_env, user))
    assert response.status_code == 403


@pytest.mark.parametrize(("ttl", "status"), [(600, 201), (601, 422), (5, 422), ("soon", 422)])
async def test_ttl_is_bounded(
    live_app: RunningApp, harness_env: HarnessEnv, ttl: object, status: int
) -> None:
    response = await live_app.client.post(
        "/v1/sessions", json={"ttl_seconds": ttl}, headers=_auth(harness_env, "alice")
    )
    assert response.status_code == status


async def test_unknown_fields_and_sessions_are_clear_errors(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    headers = _auth(harness_env, "alice")
    extra = await live_app.client.post("/v1/sessions", json={"room": "mine"}, headers=headers)
    assert extra.status_code == 422
    missing = await live_app.client.post("/v1/sessions/ses_nope/token", json={}, headers=headers)
    assert missing.status_code == 404
    long_id = await live_app.client.post(
        f"/v1/sessions/{'x' * 500}/token", json={}, headers=headers
    )
    assert long_id.status_code == 404
    not_json = await live_app.client.post(
        "/v1/sessions",
        content=b"{not json",
        headers={**headers, "content-type": "application/json"},
    )
    assert not_json.status_code == 422


async def test_member_token_joins_its_room_with_microphone_only(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    session = await _create(live_app, harness_env)
    room = await connect(harness_env.livekit_ws_url, session["token"])
    try:
        assert room.name == session["room"]
        assert room.local_participant.identity == session["identity"]
        await publish_audio(room, source=rtc.TrackSource.SOURCE_MICROPHONE)
        assert await is_video_publish_refused(room, source=rtc.TrackSource.SOURCE_SCREENSHARE)
        assert await is_video_publish_refused(room, source=rtc.TrackSource.SOURCE_CAMERA)
        async with api.LiveKitAPI(
            harness_env.livekit_url, harness_env.livekit_api_key, harness_env.livekit_api_secret
        ) as lk:
            listing = await lk.room.list_participants(
                api.ListParticipantsRequest(room=session["room"])
            )
        (participant,) = listing.participants
        # The server holds only the microphone track: the refused publishes never landed.
        assert [t.source for t in participant.tracks] == [api.TrackSource.MICROPHONE]
        assert participant.attributes["cp.tid"] == session["token_id"]
        assert list(participant.permission.can_publish_sources) == [api.TrackSource.MICROPHONE]
        assert not participant.permission.can_update_metadata
    finally:
        await room.disconnect()


async def test_video_is_granted_only_where_the_session_allows_it(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    session = await _create(live_app, harness_env, allow_video=True)
    assert session["grants"]["can_publish_sources"] == ["microphone", "camera"]
    room = await connect(harness_env.livekit_ws_url, session["token"])
    try:
        await publish_video(room, source=rtc.TrackSource.SOURCE_CAMERA)
        assert await is_video_publish_refused(room, source=rtc.TrackSource.SOURCE_SCREENSHARE)
    finally:
        await room.disconnect()


async def test_a_token_for_a_room_that_does_not_exist_is_refused(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    session = await _create(live_app, harness_env)
    async with api.LiveKitAPI(
        harness_env.livekit_url, harness_env.livekit_api_key, harness_env.livekit_api_secret
    ) as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=session["room"]))
    await asyncio.sleep(0.2)
    with pytest.raises(rtc.ConnectError):
        await connect(harness_env.livekit_ws_url, session["token"])


async def test_audit_write_failure_means_no_token_and_503(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    headers = _auth(harness_env, "alice")
    await fail_audit_inserts(live_app.state.engine)
    response = await live_app.client.post("/v1/sessions", json={}, headers=headers)
    assert response.status_code == 503
    assert "token" not in response.json()
    async with unit_of_work(live_app.state.engine) as tx:
        assert (await tx.exec(select(MintLedger))).all() == []
