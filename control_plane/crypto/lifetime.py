"""The lifetime of a verified JWT (``exp``, ``nbf``, ``iat``) against an injected clock.

Shared by every token we verify ourselves (IdP access and ID tokens, LiveKit webhooks);
each caller maps the problem to its own error. Times must be finite JSON numbers: Python's
``json`` reads ``NaN`` and ``Infinity`` (an ``exp`` that never expires) and integers too
large for a float, and each of those is refused here rather than trusted or crashed on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum

MAX_TIME = 2**63  # far beyond any real timestamp; larger integers overflow float()


class LifetimeProblem(StrEnum):
    MISSING_EXP = "missing_exp"  # absent, or not a finite number
    MALFORMED_TIME = "malformed_time"  # nbf or iat present but not a finite number
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"  # nbf in the future
    ISSUED_IN_FUTURE = "issued_in_future"  # iat in the future


def claim_time(value: object) -> float | None:
    """A finite JSON number as a float, else None (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int):
        return float(value) if abs(value) < MAX_TIME else None
    return value if math.isfinite(value) else None


def lifetime_problem(
    claims: Mapping[str, object], *, now: float, leeway: float
) -> LifetimeProblem | None:
    """None when ``exp`` is present and not past, and ``nbf``/``iat`` (when present) are
    not in the future, each within ``leeway`` seconds; else the first problem found."""
    exp = claim_time(claims.get("exp"))
    if exp is None:
        return LifetimeProblem.MISSING_EXP
    times: dict[str, float] = {}
    for name in ("nbf", "iat"):
        if claims.get(name) is None:
            continue
        value = claim_time(claims[name])
        if value is None:
            return LifetimeProblem.MALFORMED_TIME
        times[name] = value
    if exp <= now - leeway:
        return LifetimeProblem.EXPIRED
    if times.get("nbf", -math.inf) > now + leeway:
        return LifetimeProblem.NOT_YET_VALID
    if times.get("iat", -math.inf) > now + leeway:
        return LifetimeProblem.ISSUED_IN_FUTURE
    return None
