"""Detectors: pure functions over counts (tables of cases), and the counter I/O on the real
in-memory limiter storage."""

from __future__ import annotations

import pytest

from control_plane.risk.detectors import (
    MintRateRule,
    ThresholdRule,
    check_mint_rate,
    check_threshold,
    ewma,
    may_exceed_floor,
    mint_threshold,
    observe_auth_failure,
    observe_mint_rate,
    observe_session_fanout,
    window_index,
)
from control_plane.risk.limiter import RateLimiter
from control_plane.risk.responses import effective_response, effective_severity
from control_plane.risk.types import AnomalyResponse, DetectorRule, Severity

RULE = MintRateRule(window_seconds=300, baseline_windows=4, alpha=0.5, floor=5.0, factor=4.0)


@pytest.mark.parametrize(
    ("counts", "alpha", "expected"),
    [
        ([], 0.3, 0.0),
        ([10], 0.3, 10.0),
        ([10, 10, 10], 0.3, 10.0),
        ([0, 10], 0.5, 5.0),
        ([0, 0, 8], 0.5, 4.0),
        ([8, 0, 0], 0.5, 2.0),
        ([4, 8], 1.0, 8.0),
    ],
)
def test_ewma(counts: list[int], alpha: float, expected: float) -> None:
    assert ewma(counts, alpha) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("current", "history", "fires", "severity"),
    [
        (20, [], False, None),  # new subject: floor 5 x 4 = 20, not above
        (21, [], True, Severity.HIGH),
        (40, [], True, Severity.HIGH),  # exactly 2x threshold (40) is still high...
        (41, [0, 0, 0, 0], True, Severity.CRITICAL),  # ...above it is critical
        (21, [2, 3, 1, 4], True, Severity.HIGH),  # a quiet subject's baseline is the floor
        (21, [10, 10, 10, 10], False, None),  # a busy subject: baseline 10, threshold 40
        (41, [10, 10, 10, 10], True, Severity.HIGH),
        (100, [30, 30, 30, 30], False, None),  # threshold 120
        (121, [30, 30, 30, 30], True, Severity.HIGH),
    ],
)
def test_mint_rate_against_the_subjects_own_baseline(
    current: int, history: list[int], fires: bool, severity: Severity | None
) -> None:
    finding = check_mint_rate(current, history, RULE)
    assert (finding is not None) is fires
    if finding is not None:
        assert finding.rule is DetectorRule.MINT_RATE
        assert finding.severity is severity
        assert finding.evidence["window_count"] == current
        assert finding.evidence["threshold"] == round(mint_threshold(history, RULE), 2)


@pytest.mark.parametrize(("current", "expected"), [(0, False), (20, False), (21, True)])
def test_baseline_is_read_only_when_the_floor_could_be_exceeded(
    current: int, expected: bool
) -> None:
    assert may_exceed_floor(current, RULE) is expected


@pytest.mark.parametrize(
    ("count", "threshold", "fires"),
    [(1, 3, False), (3, 3, False), (4, 3, True), (5, 3, False), (1, 0, True), (2, 0, False)],
)
def test_threshold_fires_once_at_the_crossing(count: int, threshold: int, fires: bool) -> None:
    rule = ThresholdRule(DetectorRule.AUTH_FAILURES, 600, threshold)
    assert (check_threshold(count, rule) is not None) is fires


@pytest.mark.parametrize(
    ("ts", "window", "index"), [(0.0, 300, 0), (299.9, 300, 0), (300.0, 300, 1), (-1.0, 300, -1)]
)
def test_window_index(ts: float, window: int, index: int) -> None:
    assert window_index(ts, window) == index


@pytest.mark.parametrize(
    ("severity", "response", "subject", "expected_severity", "expected_response"),
    [
        (Severity.MEDIUM, AnomalyResponse.ALERT, "sub_a", Severity.MEDIUM, AnomalyResponse.ALERT),
        (Severity.MEDIUM, AnomalyResponse.STEP_UP, "sub_a", Severity.HIGH, AnomalyResponse.STEP_UP),
        (Severity.CRITICAL, AnomalyResponse.LOCK, "sub_a", Severity.CRITICAL, AnomalyResponse.LOCK),
        (Severity.MEDIUM, AnomalyResponse.LOCK, None, Severity.MEDIUM, AnomalyResponse.ALERT),
    ],
)
def test_responses_that_must_take_effect_reach_the_high_risk_threshold(
    severity: Severity,
    response: AnomalyResponse,
    subject: str | None,
    expected_severity: Severity,
    expected_response: AnomalyResponse,
) -> None:
    applied = effective_response(response, subject)
    assert applied is expected_response
    assert effective_severity(severity, applied) is expected_severity


@pytest.mark.asyncio
async def test_mint_rate_fires_once_per_window_and_learns_the_baseline() -> None:
    counters = RateLimiter("memory://")
    rule = MintRateRule(window_seconds=60, baseline_windows=3, alpha=0.5, floor=1.0, factor=3.0)
    t0 = 6000.0  # window 100
    fired = [
        await observe_mint_rate(counters, subject_id="sub_a", timestamp=t0 + i, rule=rule)
        for i in range(6)
    ]
    assert [f is not None for f in fired] == [False, False, False, True, False, False]
    # Three busy windows later, 6 mints a minute is this subject's normal.
    for window in range(1, 4):
        for i in range(6):
            await observe_mint_rate(
                counters, subject_id="sub_a", timestamp=t0 + 60 * window + i, rule=rule
            )
    quiet = [
        await observe_mint_rate(counters, subject_id="sub_a", timestamp=t0 + 240 + i, rule=rule)
        for i in range(6)
    ]
    assert not any(quiet)
    # Another subject is counted apart.
    other = [
        await observe_mint_rate(counters, subject_id="sub_b", timestamp=t0 + i, rule=rule)
        for i in range(4)
    ]
    assert other[-1] is not None


@pytest.mark.asyncio
async def test_auth_failures_and_fanout_fire_once_per_key_and_window() -> None:
    counters = RateLimiter("memory://")
    auth = ThresholdRule(DetectorRule.AUTH_FAILURES, 600, 3)
    results = [
        await observe_auth_failure(counters, address_key="addr_1", timestamp=1200.0, rule=auth)
        for _ in range(6)
    ]
    assert [r is not None for r in results] == [False, False, False, True, False, False]
    assert results[3] is not None
    assert results[3].evidence["address"] == "addr_1"
    next_window = await observe_auth_failure(
        counters, address_key="addr_1", timestamp=1800.0, rule=auth
    )
    assert next_window is None
    fanout = ThresholdRule(DetectorRule.SESSION_FANOUT, 3600, 2)
    seen = []
    for session in ["s1", "s1", "s2", "s2", "s3", "s4"]:
        seen.append(
            await observe_session_fanout(
                counters, subject_id="sub_a", session_id=session, timestamp=7200.0, rule=fanout
            )
        )
    assert [s is not None for s in seen] == [False, False, False, False, True, False]
