"""A real LiveKit client (the `livekit` rtc package) for tests: connect, publish, leave."""

from __future__ import annotations

import asyncio
import math

import numpy as np
from livekit import rtc

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 480
CONNECT_TIMEOUT = 10.0


async def connect(ws_url: str, token: str) -> rtc.Room:
    """Join with a token; bounded, since a silent port would hang the SDK for ~30 s."""
    room = rtc.Room()
    await asyncio.wait_for(room.connect(ws_url, token), CONNECT_TIMEOUT)
    return room


def sine_frame(start: int, hz: float = 440.0) -> rtc.AudioFrame:
    frame = rtc.AudioFrame.create(SAMPLE_RATE, 1, FRAME_SAMPLES)
    t = (np.arange(FRAME_SAMPLES) + start) / SAMPLE_RATE
    samples = np.frombuffer(frame.data, dtype=np.int16)
    samples[:] = (0.3 * 32767 * np.sin(2 * math.pi * hz * t)).astype(np.int16)
    return frame


async def publish_audio(room: rtc.Room, *, source: rtc.TrackSource.ValueType) -> rtc.AudioSource:
    """Publish a 440 Hz tone from the given track source; raises if the server refuses."""
    audio = rtc.AudioSource(SAMPLE_RATE, 1)
    track = rtc.LocalAudioTrack.create_audio_track("tone", audio)
    options = rtc.TrackPublishOptions(source=source)
    await asyncio.wait_for(room.local_participant.publish_track(track, options), 10)
    for i in range(20):
        await audio.capture_frame(sine_frame(i * FRAME_SAMPLES))
    return audio


async def publish_video(
    room: rtc.Room, *, source: rtc.TrackSource.ValueType, limit_seconds: float = 10.0
) -> None:
    """Publish a small solid-colour video track (camera or screen share). A refused
    publish surfaces as an SDK error or as no answer at all (a timeout)."""
    video = rtc.VideoSource(64, 64)
    track = rtc.LocalVideoTrack.create_video_track("frames", video)
    options = rtc.TrackPublishOptions(source=source)
    await asyncio.wait_for(room.local_participant.publish_track(track, options), limit_seconds)
    frame = rtc.VideoFrame(64, 64, rtc.VideoBufferType.RGBA, bytes(64 * 64 * 4))
    video.capture_frame(frame)


async def is_video_publish_refused(room: rtc.Room, *, source: rtc.TrackSource.ValueType) -> bool:
    """True when the server refuses the publish (an SDK error, or no answer within 3 s)."""
    try:
        await publish_video(room, source=source, limit_seconds=3)
    except (TimeoutError, Exception):  # the SDK raises plain Exception subclasses
        return True
    return False
