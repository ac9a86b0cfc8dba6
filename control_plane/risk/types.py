"""Risk value types."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class DetectorRule(StrEnum):
    """The anomaly detectors (risk/detectors.py); each has a configured response."""

    MINT_RATE = "mint_rate"  # mints per subject per window against its own EWMA baseline
    AUTH_FAILURES = "auth_failures"  # authentication failures per client address
    SESSION_FANOUT = "session_fanout"  # distinct sessions one subject joins per window


class AnomalyResponse(StrEnum):
    ALERT = "alert"
    STEP_UP = "step_up"  # raises the subject's risk score: high-risk forbids apply
    LOCK = "lock"


SEVERITY_SCORE = {
    Severity.LOW: 20,
    Severity.MEDIUM: 50,
    Severity.HIGH: 80,
    Severity.CRITICAL: 100,
}
