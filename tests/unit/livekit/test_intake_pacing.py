"""When processing gives way to the webhook intake: a sustained stream, not one room's burst."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.livekit import intake as intake_module
from control_plane.livekit.intake import WebhookIntake


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _intake(clock: Clock) -> WebhookIntake:
    # The rate estimate never touches the store.
    return WebhookIntake(cast(AsyncEngine, None), on_stored=lambda _ids: None, monotonic=clock)


def _arrive(intake: WebhookIntake, clock: Clock, count: int, per_second: float) -> None:
    for _ in range(count):
        intake._note_arrival()
        clock.now += 1 / per_second


def test_idle_and_a_single_rooms_burst_are_not_busy() -> None:
    clock = Clock()
    intake = _intake(clock)
    assert not intake.is_busy
    # A join's handful of events (room_started, participant_joined, track_published...)
    # arriving together must be processed at once: a forged join is removed in time.
    _arrive(intake, clock, 6, per_second=10_000)
    assert not intake.is_busy


def test_a_sustained_stream_is_busy_and_it_passes_soon_after() -> None:
    clock = Clock()
    intake = _intake(clock)
    _arrive(intake, clock, 300, per_second=500)
    assert intake.is_busy
    clock.now += 0.2  # the stream stopped: processing resumes within a few tenths
    assert not intake.is_busy


def test_a_slow_trickle_is_never_busy() -> None:
    clock = Clock()
    intake = _intake(clock)
    _arrive(intake, clock, 500, per_second=100)
    assert not intake.is_busy


@pytest.mark.asyncio
async def test_processing_waits_for_the_delivery_in_progress_to_finish() -> None:
    intake = _intake(Clock())
    order: list[str] = []
    delivery_done = asyncio.Event()

    async def delivery() -> None:
        with intake.delivering():
            for _ in range(5):  # a delivery takes several turns of the loop
                await asyncio.sleep(0)
            order.append("acknowledged")
        delivery_done.set()

    async def processor() -> None:
        await intake.pace()
        order.append("next event")

    task = asyncio.create_task(delivery())
    await asyncio.sleep(0)  # the delivery is in progress
    await processor()
    await task
    assert order == ["acknowledged", "next event"]
    assert delivery_done.is_set()


@pytest.mark.asyncio
async def test_a_delivery_that_never_ends_delays_processing_only_boundedly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(intake_module, "QUIET_WAIT_SECONDS", 0.01)
    intake = _intake(Clock())
    with intake.delivering():
        await asyncio.wait_for(intake.pace(), 1.0)  # a flood cannot stop processing


@pytest.mark.asyncio
async def test_a_failed_delivery_still_ends_its_mark() -> None:
    intake = _intake(Clock())
    with pytest.raises(RuntimeError), intake.delivering():
        raise RuntimeError("verification blew up")
    await asyncio.wait_for(intake.pace(), 0.05)  # no delivery in progress: no wait
