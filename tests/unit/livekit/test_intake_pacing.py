"""When processing gives way to the webhook intake: a sustained stream, not one room's burst."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.livekit.intake import WebhookIntake


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _intake(clock: Clock, *, quiet_wait_seconds: float = 0.25) -> WebhookIntake:
    # The rate estimate never touches the store.
    return WebhookIntake(
        cast(AsyncEngine, None),
        on_stored=lambda _ids: None,
        monotonic=clock,
        quiet_wait_seconds=quiet_wait_seconds,
    )


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
async def test_a_delivery_that_never_ends_delays_processing_only_boundedly() -> None:
    intake = _intake(Clock(), quiet_wait_seconds=0.01)
    with intake.delivering():
        # The outer bound only keeps a regression from hanging the suite.
        await asyncio.wait_for(intake.pace(), 20)  # a flood cannot stop processing
        assert intake.deliveries_in_flight == 1  # processing went on while it was running
    assert intake.deliveries_in_flight == 0


@pytest.mark.asyncio
async def test_a_failed_delivery_still_ends_its_mark() -> None:
    # A quiet wait of an hour: if the failed delivery had left its mark, pace would wait.
    intake = _intake(Clock(), quiet_wait_seconds=3600)
    with pytest.raises(RuntimeError), intake.delivering():
        raise RuntimeError("verification blew up")
    assert intake.deliveries_in_flight == 0
    await asyncio.wait_for(intake.pace(), 20)  # no delivery in progress: no wait
