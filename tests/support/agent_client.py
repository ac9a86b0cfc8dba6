"""A real LiveKit participant that talks to the voice agent, for end-to-end tests.

It connects with the rtc SDK (libwebrtc over loopback), sends text turns on the agents'
text input topic (``lk.chat``), and collects what the agent sends back: final reply text on
``lk.transcription`` (the worker sends it to the pinned participant only) and the agent's
published audio, measured frame by frame.

    client = await AgentClient.connect(env.livekit_ws_url, token)
    agent = await client.wait_for_agent()
    reply = await client.ask("where can I find a black-owned bookstore?")
    await client.wait_for_agent_audio()
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

import numpy as np
from livekit import api, rtc

TOPIC_CHAT: Final = "lk.chat"
TOPIC_TRANSCRIPTION: Final = "lk.transcription"
CONNECT_TIMEOUT: Final = 15.0
# int16 RMS above this counts as sound (the offline voice peaks around 8000).
AUDIBLE_RMS: Final = 200.0


def mint_user_token(
    api_key: str,
    api_secret: str,
    *,
    identity: str,
    room: str,
    ttl: timedelta = timedelta(minutes=5),
    can_publish_data: bool = True,
) -> str:
    """A standard participant's join token with every grant explicit (SDK defaults are True)."""
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=can_publish_data,
        can_publish_sources=["microphone"],
        can_update_own_metadata=False,
    )
    return (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_kind("standard")
        .with_ttl(ttl)
        .with_grants(grants)
        .to_jwt()
    )


@dataclass(frozen=True)
class AgentReply:
    text: str
    sender: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class AudioStats:
    frames: int = 0
    audible_frames: int = 0
    peak_rms: float = 0.0


class AgentClient:
    """One connected participant; owns its room connection and reader tasks."""

    def __init__(self, room: rtc.Room) -> None:
        self.room = room
        self.replies: asyncio.Queue[AgentReply] = asyncio.Queue()
        self.audio = AudioStats()
        self._audible = asyncio.Event()
        self._agent_joined = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        room.register_text_stream_handler(TOPIC_TRANSCRIPTION, self._on_text_stream)
        room.on("participant_connected", self._on_participant)
        room.on("track_subscribed", self._on_track)
        for participant in room.remote_participants.values():
            self._on_participant(participant)

    @classmethod
    async def connect(cls, url: str, token: str, *, within: float = CONNECT_TIMEOUT) -> AgentClient:
        room = rtc.Room()
        client = cls(room)
        # A port that never answers would hang for ~30 s inside the SDK.
        await asyncio.wait_for(
            room.connect(url, token, rtc.RoomOptions(auto_subscribe=True)), within
        )
        for participant in room.remote_participants.values():
            client._on_participant(participant)
        return client

    @property
    def identity(self) -> str:
        return self.room.local_participant.identity

    def agents(self) -> list[rtc.RemoteParticipant]:
        return [
            p
            for p in self.room.remote_participants.values()
            if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        ]

    async def wait_for_agent(self, within: float = 30.0) -> rtc.RemoteParticipant:
        """The first agent participant (kind AGENT) in the room."""
        await asyncio.wait_for(self._agent_joined.wait(), within)
        return self.agents()[0]

    async def send_turn(self, text: str) -> None:
        """One user text turn, on the agents' text input topic."""
        await self.room.local_participant.send_text(text, topic=TOPIC_CHAT)

    async def next_reply(self, within: float = 30.0) -> AgentReply:
        """The next final reply text the agent sent to this participant."""
        return await asyncio.wait_for(self.replies.get(), within)

    async def ask(self, text: str, within: float = 30.0) -> AgentReply:
        await self.send_turn(text)
        return await self.next_reply(within)

    async def wait_for_agent_audio(self, within: float = 30.0) -> AudioStats:
        """Wait until the agent's audio track carried audible frames."""
        await asyncio.wait_for(self._audible.wait(), within)
        return self.audio

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.room.disconnect()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_participant(self, participant: rtc.RemoteParticipant) -> None:
        if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            self._agent_joined.set()

    def _on_text_stream(self, reader: rtc.TextStreamReader, sender: str) -> None:
        async def read() -> None:
            text = await reader.read_all()
            attributes = dict(reader.info.attributes or {})
            if attributes.get("lk.transcription_final", "true") == "true":
                await self.replies.put(AgentReply(text=text, sender=sender, attributes=attributes))

        self._spawn(read(), "agent_client.text")

    def _on_track(
        self,
        track: rtc.Track,
        _publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        if (
            participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
            and track.kind == rtc.TrackKind.KIND_AUDIO
        ):
            self._spawn(self._read_audio(track), "agent_client.audio")

    async def _read_audio(self, track: rtc.Track) -> None:
        stream = rtc.AudioStream(track)
        try:
            async for event in stream:
                samples = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float64)
                rms = math.sqrt(float(np.mean(samples**2))) if samples.size else 0.0
                self.audio.frames += 1
                self.audio.peak_rms = max(self.audio.peak_rms, rms)
                if rms >= AUDIBLE_RMS:
                    self.audio.audible_frames += 1
                    self._audible.set()
        finally:
            await stream.aclose()
