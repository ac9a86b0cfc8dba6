"""A bounded memo of Cedar answers, one per policy snapshot.

Cedar evaluation is a pure function of (policies, schema, entities, request). Every input
that reaches Cedar is inside the frozen ``AuthzRequest`` values used as the key (principal
attributes including ``locked``, resource attributes, context including risk and requested
TTL), and the memo lives on the immutable snapshot, so a reload starts an empty one. A hit
therefore returns exactly what evaluation would: it is an optimisation, never a staleness
window. Each decision still gets a fresh id and its own audit record. Engine errors are
never memoised.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from control_plane.authz.types import JsonValue

MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class Answer:
    """What Cedar said about one request, without the per-request decision id."""

    allowed: bool
    determining_policies: tuple[str, ...]
    masked_input: dict[str, JsonValue]
    """The request's audit form (a pure function of the request, so of the key); shared by
    every decision answered from this entry and never modified."""


class DecisionMemo:
    """LRU of answers keyed by the exact batch of requests; thread-safe, size-bounded."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[Hashable, tuple[Answer, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> tuple[Answer, ...] | None:
        with self._lock:
            answers = self._entries.get(key)
            if answers is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return answers

    def put(self, key: Hashable, answers: tuple[Answer, ...]) -> None:
        with self._lock:
            self._entries[key] = answers
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
