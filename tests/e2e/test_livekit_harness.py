"""First end-to-end proof against the real livekit-server of the local harness.

A room created through the server API accepts a minted join token, a real rtc client
(libwebrtc over loopback ICE) publishes a generated 440 Hz track, and the server refuses
tokens that do not fit: another room, a room nobody created (``auto_create: false``), or
a key the server does not know.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import numpy as np
import pytest
import pytest_asyncio
from livekit import api, rtc

from tests.support.harness import HarnessEnv

pytestmark = pytest.mark.e2e

CONNECT_TIMEOUT = 15.0
SAMPLE_RATE = 48_000
FRAME_SAMPLES = 480  # 10 ms
TONE_HZ = 440.0

RoomFactory = Callable[[str], Awaitable[api.Room]]


def _unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def _join_token(
    env: HarnessEnv,
    *,
    identity: str,
    room: str,
    api_key: str | None = None,
    api_secret: str | None = None,
) -> str:
    # Every grant is explicit: the SDK defaults publish/subscribe/data to True.
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=True,
        can_subscribe=False,
        can_publish_data=False,
        can_publish_sources=["microphone"],
    )
    return (
        api.AccessToken(api_key or env.livekit_api_key, api_secret or env.livekit_api_secret)
        .with_identity(identity)
        .with_kind("standard")
        .with_ttl(timedelta(minutes=2))
        .with_grants(grants)
        .to_jwt()
    )


def _sine_frame(start_sample: int) -> rtc.AudioFrame:
    frame = rtc.AudioFrame.create(SAMPLE_RATE, 1, FRAME_SAMPLES)
    t = (np.arange(FRAME_SAMPLES) + start_sample) / SAMPLE_RATE
    samples = np.frombuffer(frame.data, dtype=np.int16)
    samples[:] = (0.3 * 32767 * np.sin(2 * math.pi * TONE_HZ * t)).astype(np.int16)
    return frame


async def _connect(env: HarnessEnv, token: str) -> rtc.Room:
    room = rtc.Room()
    # A port that never answers would hang for ~30 s inside the SDK.
    await asyncio.wait_for(room.connect(env.livekit_ws_url, token), CONNECT_TIMEOUT)
    return room


@pytest_asyncio.fixture
async def lkapi(harness_env: HarnessEnv) -> AsyncIterator[api.LiveKitAPI]:
    async with api.LiveKitAPI(
        harness_env.livekit_url, harness_env.livekit_api_key, harness_env.livekit_api_secret
    ) as client:
        yield client


@pytest_asyncio.fixture
async def create_room(lkapi: api.LiveKitAPI) -> AsyncIterator[RoomFactory]:
    created: list[str] = []

    async def factory(prefix: str) -> api.Room:
        room = await lkapi.room.create_room(
            api.CreateRoomRequest(name=_unique(prefix), empty_timeout=30)
        )
        created.append(room.name)
        return room

    yield factory
    for name in created:
        await lkapi.room.delete_room(api.DeleteRoomRequest(room=name))


async def _wait_for_microphone_track(
    lkapi: api.LiveKitAPI, room: str, identity: str
) -> api.ParticipantInfo:
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        listing = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
        for participant in listing.participants:
            if participant.identity == identity and any(
                t.type == api.TrackType.AUDIO and t.source == api.TrackSource.MICROPHONE
                for t in participant.tracks
            ):
                return participant
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no microphone track from {identity} in {room}")
        await asyncio.sleep(0.2)


@pytest.mark.asyncio
async def test_created_room_accepts_minted_token_and_published_sine_track(
    harness_env: HarnessEnv, lkapi: api.LiveKitAPI, create_room: RoomFactory
) -> None:
    room_info = await create_room("e2e-publish")
    identity = _unique("user")
    room = await _connect(
        harness_env, _join_token(harness_env, identity=identity, room=room_info.name)
    )
    try:
        assert room.name == room_info.name
        source = rtc.AudioSource(SAMPLE_RATE, 1)
        track = rtc.LocalAudioTrack.create_audio_track("sine-440", source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await asyncio.wait_for(room.local_participant.publish_track(track, options), 10)
        for i in range(50):  # 0.5 s of tone
            await source.capture_frame(_sine_frame(i * FRAME_SAMPLES))

        info = await _wait_for_microphone_track(lkapi, room_info.name, identity)

        # ACTIVE means ICE completed over loopback, not only the signalling socket.
        assert info.state == api.ParticipantInfo.State.ACTIVE
        assert info.kind == api.ParticipantInfo.Kind.STANDARD
        assert info.permission.can_publish
        assert not info.permission.can_subscribe
        assert not info.permission.can_publish_data
    finally:
        await room.disconnect()


@pytest.mark.asyncio
async def test_token_for_another_room_is_refused(
    harness_env: HarnessEnv, lkapi: api.LiveKitAPI, create_room: RoomFactory
) -> None:
    granted, other = await create_room("e2e-granted"), await create_room("e2e-other")
    identity = _unique("user")
    room = await _connect(
        harness_env, _join_token(harness_env, identity=identity, room=granted.name)
    )
    try:
        # The room in the token always wins: the client lands in the granted room only.
        assert room.name == granted.name
        others = await lkapi.room.list_participants(api.ListParticipantsRequest(room=other.name))
        assert [p.identity for p in others.participants] == []

        # A token scoped to one room is refused by the server for the other room.
        scoped = (
            api.AccessToken(harness_env.livekit_api_key, harness_env.livekit_api_secret)
            .with_ttl(timedelta(minutes=1))
            .with_grants(api.VideoGrants(room_admin=True, room=granted.name))
            .to_jwt()
        )
        async with api.LiveKitAPI(harness_env.livekit_url, token=scoped) as scoped_api:
            own = await scoped_api.room.list_participants(
                api.ListParticipantsRequest(room=granted.name)
            )
            assert [p.identity for p in own.participants] == [identity]
            with pytest.raises(api.TwirpError) as refused:
                await scoped_api.room.list_participants(
                    api.ListParticipantsRequest(room=other.name)
                )
        assert refused.value.status in {401, 403}
    finally:
        await room.disconnect()


@pytest.mark.asyncio
async def test_room_that_was_not_created_cannot_be_joined(
    harness_env: HarnessEnv, lkapi: api.LiveKitAPI
) -> None:
    name = _unique("e2e-never-created")
    token = _join_token(harness_env, identity=_unique("user"), room=name)

    with pytest.raises(rtc.ConnectError):
        await _connect(harness_env, token)

    rooms = await lkapi.room.list_rooms(api.ListRoomsRequest(names=[name]))
    assert list(rooms.rooms) == []


@pytest.mark.asyncio
async def test_token_signed_with_unknown_key_is_refused(
    harness_env: HarnessEnv, create_room: RoomFactory
) -> None:
    room_info = await create_room("e2e-unknown-key")
    token = _join_token(
        harness_env,
        identity=_unique("user"),
        room=room_info.name,
        api_key="not-a-configured-key",
        api_secret=secrets.token_urlsafe(32),
    )

    with pytest.raises(rtc.ConnectError):
        await _connect(harness_env, token)
