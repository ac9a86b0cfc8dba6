"""The lifespan-owned redaction service: the Presidio engine, loaded on first use and always
run off the event loop.

``workers == 0``: one :class:`Redactor` in one dedicated thread (spaCy objects are not
shared between threads; a single thread also serialises the model). ``workers > 0``: the
engine's process pool, for throughput on several cores.

Fail closed (issue 15): if the engine cannot load or a batch raises, every segment of the
batch comes back as one ``REDACTION_FAILED`` span covering the whole text, so the caller
stores only the mask; the count reaches the batch's audit record through
``RedactionResult.counts`` and the failure is logged with its exception type only.

Either way the event loop only awaits, and a batch's findings come back as entities;
session placeholders are rendered by the caller (``transcripts.py``), so nothing
session-specific crosses a process boundary.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from control_plane.logs import get_logger
from control_plane.privacy.redaction import Entity, EntityType, RedactionResult, Redactor
from control_plane.privacy.redaction.spans import render

_log = get_logger(__name__)


def masked(texts: Sequence[str]) -> list[RedactionResult]:
    """Each text as one ``REDACTION_FAILED`` span: what is stored when the engine fails."""
    return [
        render(t, [Entity(EntityType.REDACTION_FAILED, 0, len(t), 1.0)] if t else [], None)
        for t in texts
    ]


class _Engine(Protocol):
    def redact_many(self, texts: Sequence[str]) -> list[RedactionResult]: ...


class TranscriptRedactor:
    """Owned by the lifespan (``AppState.redactor``); ``aclose()`` on shutdown."""

    def __init__(self, *, workers: int = 0) -> None:
        self._workers = workers
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="redactor")
        self._engine: _Engine | None = None
        self._closer: object = None
        self._lock = asyncio.Lock()

    def _load(self) -> _Engine:
        if self._workers > 0:
            from control_plane.privacy.redaction.pool import RedactionPool

            pool = RedactionPool(workers=self._workers)
            self._closer = pool
            return pool
        return Redactor()

    async def _ready(self) -> _Engine:
        if self._engine is None:
            async with self._lock:
                if self._engine is None:
                    loop = asyncio.get_running_loop()
                    self._engine = await loop.run_in_executor(self._executor, self._load)
        return self._engine

    async def warm_up(self) -> None:
        """Load the model now (start-up) instead of on the first transcript."""
        await self.redact_many(["warm up"])

    async def redact_many(self, texts: Sequence[str]) -> list[RedactionResult]:
        """Find PII in each text (no placeholders applied), off the event loop."""
        if not texts:
            return []
        try:
            engine = await self._ready()
            loop = asyncio.get_running_loop()
            results = await loop.run_in_executor(self._executor, engine.redact_many, list(texts))
        except Exception as exc:  # fail closed: any engine failure masks the whole batch
            _log.error("privacy.redaction_failed", reason=type(exc).__name__, segments=len(texts))
            return masked(texts)
        if len(results) != len(texts):
            _log.error("privacy.redaction_failed", reason="result count", segments=len(texts))
            return masked(texts)
        return results

    async def aclose(self) -> None:
        closer = self._closer
        if closer is not None and hasattr(closer, "close"):
            await asyncio.get_running_loop().run_in_executor(self._executor, closer.close)
        self._executor.shutdown(wait=False, cancel_futures=True)
