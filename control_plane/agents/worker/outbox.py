"""A job's outbox: session events enqueue reports, one task delivers them in order.

Session event handlers are synchronous and must not block the audio pipeline, so they only
enqueue. The sender drains the queue, batching consecutive segments and consecutive turns,
and posts them with the session credential. A 401/403/410 means the control plane revoked
or ended the session: the outbox stops and tells the job, which leaves the room.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Final

from control_plane.agents.worker.reporting import (
    ControlPlaneClient,
    CredentialSource,
    ReportError,
    ReportRejected,
)
from control_plane.agents.worker.turns import TranscriptSegment, TurnMetrics
from control_plane.logs import get_logger

log = get_logger(__name__)

REVOKED_STATUSES: Final = frozenset({401, 403, 410})
MAX_QUEUED: Final = 1000

Report = TranscriptSegment | TurnMetrics


class SessionOutbox:
    def __init__(
        self,
        client: ControlPlaneClient,
        *,
        session_id: str,
        credential: CredentialSource,
        on_revoked: Callable[[int], None],
    ) -> None:
        self._client = client
        self._session_id = session_id
        self._credential = credential
        self._on_revoked = on_revoked
        self._items: deque[Report] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._revoked = False
        self.delivered_segments = 0
        self.delivered_turns = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="agent.outbox")

    def put(self, report: Report) -> None:
        """Enqueue without blocking; drop (and log) when revoked or full."""
        if self._revoked:
            return
        if len(self._items) >= MAX_QUEUED:
            log.warning("agent.report_dropped", reason="outbox_full", session=self._session_id)
            return
        self._items.append(report)
        self._idle.clear()
        self._wakeup.set()

    async def aclose(self, grace_seconds: float) -> None:
        """Deliver what is queued within ``grace_seconds``, then stop."""
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self._idle.wait(), grace_seconds)
        except TimeoutError:
            log.warning(
                "agent.report_dropped",
                reason="shutdown_timeout",
                count=len(self._items),
                session=self._session_id,
            )
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._items:
                kind = type(self._items[0])
                batch: list[Report] = []
                while self._items and type(self._items[0]) is kind:
                    batch.append(self._items.popleft())
                await self._deliver(batch)
            self._idle.set()

    async def _deliver(self, batch: list[Report]) -> None:
        if self._revoked:
            return
        try:
            if isinstance(batch[0], TranscriptSegment):
                segments = [r for r in batch if isinstance(r, TranscriptSegment)]
                await self._client.post_transcript(self._session_id, self._credential, segments)
                self.delivered_segments += len(segments)
            else:
                turns = [r for r in batch if isinstance(r, TurnMetrics)]
                await self._client.post_metrics(self._session_id, self._credential, turns)
                self.delivered_turns += len(turns)
        except ReportRejected as exc:
            if exc.status in REVOKED_STATUSES:
                self._revoked = True
                self._items.clear()
                self._on_revoked(exc.status or 0)
        except ReportError:
            # Already logged by the client; this batch is lost, the session goes on.
            pass
