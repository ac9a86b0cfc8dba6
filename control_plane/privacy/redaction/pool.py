"""``RedactionPool``: one :class:`Redactor` per worker process, for multi-core throughput.

spaCy releases little of the GIL, so threads do not scale; processes do. Workers are
started with ``spawn`` (no inherited locks or threads from the server process), each loads
the model once in the pool initializer, and work is shipped in chunks so the per-task
pickling cost is amortised. Session placeholders stay in the parent: workers return
entities and the parent re-renders with the caller's :class:`PlaceholderMap`.
"""

from __future__ import annotations

import functools
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType

from control_plane.logs import configure_logging
from control_plane.privacy.redaction.engine import DEFAULT_MODEL, Redactor, check_text
from control_plane.privacy.redaction.errors import RedactorUnavailable
from control_plane.privacy.redaction.placeholder import PlaceholderMap
from control_plane.privacy.redaction.spans import render
from control_plane.privacy.redaction.types import RedactionResult


@functools.cache
def _worker_redactor(model: str) -> Redactor:
    """The worker process's own Redactor.

    This memo is the one piece of process-wide state in the package, and it is only ever
    filled inside pool worker processes (the initializer calls it); the parent never does.
    """
    return Redactor(model=model)


def _init_worker(model: str, log_level: str) -> None:
    """Pool initializer: a spawned worker starts with no logging set up, so set it first."""
    configure_logging(log_level)
    _worker_redactor(model)


def _redact_chunk(model: str, texts: list[str]) -> list[RedactionResult]:
    return _worker_redactor(model).redact_many(texts)


class RedactionPool:
    """Redacts batches across worker processes; create in the lifespan, ``close()`` on exit."""

    def __init__(
        self,
        *,
        workers: int = 2,
        model: str = DEFAULT_MODEL,
        chunk_size: int = 32,
        log_level: str = "INFO",
    ) -> None:
        self._model = model
        self._workers = workers
        self._chunk_size = chunk_size
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(model, log_level),
        )

    def check_text(self, text: object) -> str:
        """Return ``text`` if it is a string within the size limit, else raise."""
        return check_text(text)

    def warm_up(self) -> None:
        """Block until every worker has loaded its model (start-up cost off the hot path)."""
        # One task per worker: each submit starts a process while none is idle yet.
        futures = [
            self._executor.submit(_redact_chunk, self._model, ["warm up"])
            for _ in range(self._workers)
        ]
        for future in futures:
            future.result()

    def redact_many(
        self, texts: Sequence[str], *, placeholders: PlaceholderMap | None = None
    ) -> list[RedactionResult]:
        """Redact segments in order across the workers; same results as ``Redactor``."""
        checked = [self.check_text(t) for t in texts]
        step = self._chunk_size
        chunks = [checked[i : i + step] for i in range(0, len(checked), step)]
        try:
            mapped = self._executor.map(_redact_chunk, [self._model] * len(chunks), chunks)
            results = [r for chunk in mapped for r in chunk]
        except BrokenProcessPool as exc:
            raise RedactorUnavailable("a redaction worker process died") from exc
        if placeholders is None:
            return results
        return [
            render(text, list(r.entities), placeholders)
            for text, r in zip(checked, results, strict=True)
        ]

    def close(self) -> None:
        """Stop the workers (waits for queued work)."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> RedactionPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
