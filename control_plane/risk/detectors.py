"""Statistical anomaly detectors over event streams: pure functions over counts.

The streams are fixed-window counters in the rate limiter's storage (memory in embedded
mode, Redis in production), so every replica counts the same events and a detector costs
one or two atomic ``incr`` calls on the hot path, never a table scan:

- ``mint_rate``: mints per subject per window (default 5 min) against that subject's own
  baseline, the EWMA (alpha 0.3) of its previous windows (default 12) with a floor (5),
  alerting when the current window exceeds ``factor`` (4) x baseline. The previous windows
  are read only once the current count could exceed ``factor`` x floor.
- ``auth_failures``: failed authentications per client address (keyed hash) per window
  (10 min), alerting above a threshold (20).
- ``session_fanout``: distinct sessions one subject mints for per window (1 h), alerting
  above a threshold (10): a shared or stolen account fanning out.

Each detector fires once per key and window: the counter crosses the threshold at exactly
one ``incr`` (threshold detectors), or an atomic alert marker admits one (mint rate).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from control_plane.risk.types import DetectorRule, Severity


@dataclass(frozen=True)
class Finding:
    """What a detector saw: the rule, how bad, and pseudonymous evidence (counts only)."""

    rule: DetectorRule
    severity: Severity
    evidence: dict[str, object] = field(hash=False)


@dataclass(frozen=True)
class MintRateRule:
    window_seconds: int = 300
    baseline_windows: int = 12
    alpha: float = 0.3
    floor: float = 5.0
    factor: float = 4.0


@dataclass(frozen=True)
class ThresholdRule:
    rule: DetectorRule
    window_seconds: int
    threshold: int


def window_index(timestamp: float, window_seconds: int) -> int:
    """The fixed window a moment falls in (windows are aligned to the epoch)."""
    return math.floor(timestamp / window_seconds)


def ewma(counts: Sequence[int], alpha: float) -> float:
    """Exponentially weighted moving average, oldest count first (0.0 for no history)."""
    if not counts:
        return 0.0
    value = float(counts[0])
    for count in counts[1:]:
        value = alpha * count + (1 - alpha) * value
    return value


def mint_threshold(history: Sequence[int], rule: MintRateRule) -> float:
    """The count above which the current window is anomalous for this subject."""
    return rule.factor * max(ewma(history, rule.alpha), rule.floor)


def may_exceed_floor(current: int, rule: MintRateRule) -> bool:
    """Cheap pre-check: below factor x floor no baseline can make the window anomalous."""
    return current > rule.factor * rule.floor


def check_mint_rate(current: int, history: Sequence[int], rule: MintRateRule) -> Finding | None:
    """A finding when ``current`` mints this window exceed ``factor`` x the baseline."""
    threshold = mint_threshold(history, rule)
    if current <= threshold:
        return None
    severity = Severity.CRITICAL if current > 2 * threshold else Severity.HIGH
    return Finding(
        DetectorRule.MINT_RATE,
        severity,
        {
            "window_seconds": rule.window_seconds,
            "window_count": current,
            "baseline": round(max(ewma(history, rule.alpha), rule.floor), 2),
            "threshold": round(threshold, 2),
            "history": list(history),
        },
    )


def check_threshold(count: int, rule: ThresholdRule) -> Finding | None:
    """A finding exactly when ``count`` first exceeds the threshold in its window."""
    if count != rule.threshold + 1:
        return None
    return Finding(
        rule.rule,
        Severity.HIGH if rule.rule is DetectorRule.SESSION_FANOUT else Severity.MEDIUM,
        {
            "window_seconds": rule.window_seconds,
            "window_count": count,
            "threshold": rule.threshold,
        },
    )


class Counters(Protocol):
    """Fixed-window counters shared by every replica (``RateLimiter`` implements it)."""

    async def incr(self, key: str, expiry_seconds: int) -> int: ...

    async def get(self, key: str) -> int: ...


async def observe_mint_rate(
    counters: Counters, *, subject_id: str, timestamp: float, rule: MintRateRule
) -> Finding | None:
    """Count one mint; a finding the first time this window exceeds the baseline."""
    index = window_index(timestamp, rule.window_seconds)
    keep = rule.window_seconds * (rule.baseline_windows + 1)
    current = await counters.incr(f"cp:det:mint:{subject_id}:{index}", keep)
    if not may_exceed_floor(current, rule):
        return None
    alerted = f"cp:det:mint-alerted:{subject_id}:{index}"
    if await counters.get(alerted):
        return None
    # One after another, not gathered: gathering makes tasks and yields the event loop in
    # the middle of the mint's transaction (with the embedded store's single connection,
    # every other request then queued behind this one). With Redis that is one round trip
    # per window, paid only once a subject is above the floor.
    history = [
        await counters.get(f"cp:det:mint:{subject_id}:{index - back}")
        for back in range(rule.baseline_windows, 0, -1)
    ]
    finding = check_mint_rate(current, history, rule)
    if finding is None or await counters.incr(alerted, rule.window_seconds) != 1:
        return None
    return finding


async def observe_auth_failure(
    counters: Counters, *, address_key: str, timestamp: float, rule: ThresholdRule
) -> Finding | None:
    """Count one failed authentication from an address (keyed hash); a finding once the
    window's count exceeds the threshold."""
    index = window_index(timestamp, rule.window_seconds)
    count = await counters.incr(f"cp:det:auth:{address_key}:{index}", rule.window_seconds)
    finding = check_threshold(count, rule)
    if finding is not None:
        finding.evidence["address"] = address_key
    return finding


async def observe_session_fanout(
    counters: Counters,
    *,
    subject_id: str,
    session_id: str,
    timestamp: float,
    rule: ThresholdRule,
) -> Finding | None:
    """Count a session the first time a subject mints for it this window; a finding once
    the distinct count exceeds the threshold."""
    index = window_index(timestamp, rule.window_seconds)
    seen = await counters.incr(f"cp:det:fan:{subject_id}:{session_id}:{index}", rule.window_seconds)
    if seen != 1:
        return None
    count = await counters.incr(f"cp:det:fan:{subject_id}:{index}", rule.window_seconds)
    return check_threshold(count, rule)
