"""Durable webhook intake: verified events are stored once, then acknowledged.

Each request waits until its event is committed (a 2xx means durable), but requests
share commits (``store.group_commit``): whatever is pending is stored in one transaction
(``INSERT ... ON CONFLICT DO NOTHING``, so a duplicate id is a no-op). Under load that
turns N commits into one without delaying a lone request. Processing is not done here:
the new ids go to ``on_stored`` (the in-process queue) after commit, so a slow LiveKit
API or audit chain never delays the acknowledgement.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.errors import ControlPlaneError
from control_plane.livekit.errors import WebhookStoreUnavailable
from control_plane.livekit.tables import WebhookEvent
from control_plane.livekit.webhook import VerifiedWebhook
from control_plane.store.engine import insert_new
from control_plane.store.group_commit import GroupCommit

MAX_BATCH = 256
STORE_TIMEOUT_SECONDS = 10.0
# "Busy" = deliveries arriving at 200/s or more (a rate decayed over 0.1 s), so the few
# events of one room's join (a forged join among them) are processed at once, and only a
# sustained stream makes processing give way.
BUSY_RATE_PER_SECOND = 200.0
RATE_DECAY_SECONDS = 0.1
# While deliveries keep arriving, processing takes one event per pause. Each event holds
# the loop ~4 ms, and at 1,500 deliveries/s even 20 events/s (a 0.05 s pause) pushed the
# acknowledgement p99 from 19 ms to 50-100 ms. A slow acknowledgement is what loses events
# (LiveKit's per-room queues drop at 200 deep and retry only 5xx), and a storm never hides
# a participant for long: the reconciler lists every active room every
# webhooks.reconcile_interval_seconds (5 s) regardless of this queue.
BUSY_PAUSE_SECONDS = 0.5
# Processing starts an event only between deliveries: an event holds the loop for ~4 ms,
# and a delivery takes several turns of the loop, so interleaving the two (even at a few
# hundred deliveries/s, before "busy" is detected) added 20-60 ms to acknowledgements.
# It waits for a quiet moment at most this long, so a flood cannot stop processing
# (the default of ``WebhookIntake(quiet_wait_seconds=...)``).
QUIET_WAIT_SECONDS = 0.25


@dataclass(frozen=True)
class StoreResult:
    event_id: str
    is_new: bool


class WebhookIntake:
    """Owned by the lifespan: ``start()`` before serving, ``stop()`` drains and stops."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        on_stored: Callable[[Sequence[str]], None],
        max_batch: int = MAX_BATCH,
        monotonic: Callable[[], float] = time.monotonic,
        quiet_wait_seconds: float = QUIET_WAIT_SECONDS,
    ) -> None:
        self._monotonic = monotonic
        self._quiet_wait_seconds = quiet_wait_seconds
        self._on_stored = on_stored
        self._writer: GroupCommit[dict[str, object], bool] = GroupCommit(
            engine,
            _store_rows,
            name="livekit.webhook_intake",
            unavailable=WebhookStoreUnavailable,
            max_batch=max_batch,
            wait_seconds=STORE_TIMEOUT_SECONDS,
            committed=self._announce,
        )
        self._rate = 0.0
        self._rate_at = 0.0
        self._in_flight = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    def _arrival_rate(self, now: float) -> float:
        return self._rate * math.exp(-(now - self._rate_at) / RATE_DECAY_SECONDS)

    def _note_arrival(self) -> None:
        now = self._monotonic()
        self._rate = self._arrival_rate(now) + 1 / RATE_DECAY_SECONDS
        self._rate_at = now

    @property
    def is_busy(self) -> bool:
        """Deliveries are streaming in (>= 200/s): background work should give way."""
        return self._arrival_rate(self._monotonic()) >= BUSY_RATE_PER_SECOND

    @property
    def deliveries_in_flight(self) -> int:
        """Verified deliveries being stored now (processing gives way while any are)."""
        return self._in_flight

    @contextlib.contextmanager
    def delivering(self) -> Iterator[None]:
        """Mark a verified delivery in progress until it is stored. Entered only after
        the body was read and verified: a sender holding its body open, or a forgery,
        must not make processing wait (T-DOS-5)."""
        self._in_flight += 1
        self._quiet.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._quiet.set()

    async def give_way(self) -> None:
        """Yield to the event loop, then wait (boundedly) until no delivery is in
        progress: for short steps of background work on the same loop."""
        await asyncio.sleep(0)
        if self._in_flight:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._quiet_wait_seconds):
                    await self._quiet.wait()

    async def pace(self) -> None:
        """``give_way``, after a longer pause while deliveries stream in: so that
        processing (which runs on the same loop) never holds up an acknowledgement."""
        if self.is_busy:
            await asyncio.sleep(BUSY_PAUSE_SECONDS)
        await self.give_way()

    def start(self) -> None:
        self._writer.start()

    async def stop(self) -> None:
        """Store what is pending, then stop the writer."""
        await self._writer.stop()

    async def store(self, webhook: VerifiedWebhook, *, received_at: datetime) -> StoreResult:
        """Return once the event is committed (``is_new`` False for a duplicate id).

        Raises ``WebhookStoreUnavailable`` (503, so LiveKit retries) if it cannot be.
        """
        self._note_arrival()
        row: dict[str, object] = {
            "id": webhook.id,
            "event": webhook.event,
            "room_name": webhook.room_name[:256] if webhook.room_name else None,
            "created_at": webhook.created_at,
            "received_at": received_at,
            "body": webhook.stored_body,
            "outcome": "",
            "attempts": 0,
            "last_error": "",
        }
        is_new = await self._writer.submit(row)
        return StoreResult(event_id=webhook.id, is_new=is_new)

    def _announce(
        self, rows: Sequence[dict[str, object]], results: Sequence[bool | ControlPlaneError]
    ) -> None:
        stored = [
            str(row["id"]) for row, is_new in zip(rows, results, strict=True) if is_new is True
        ]
        if stored:
            self._on_stored(stored)


async def _store_rows(tx: AsyncSession, rows: Sequence[dict[str, object]]) -> list[bool]:
    """Insert the batch's new events; True for each row that is the first of its id."""
    unique: dict[str, dict[str, object]] = {}
    for row in rows:
        unique.setdefault(str(row["id"]), row)  # the same id twice in one batch
    inserted = await insert_new(
        await tx.connection(),
        WebhookEvent.__table__,  # type: ignore[attr-defined]
        list(unique.values()),
        key="id",
    )
    claimed: set[str] = set()
    results = []
    for row in rows:
        event_id = str(row["id"])
        results.append(event_id in inserted and event_id not in claimed)
        claimed.add(event_id)
    return results
