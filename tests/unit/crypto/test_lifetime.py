"""JWT lifetime: exp required, nbf/iat not in the future, only finite numbers trusted."""

from __future__ import annotations

import pytest

from control_plane.crypto.lifetime import LifetimeProblem, lifetime_problem

NOW = 1_800_000_000.0
LEEWAY = 30.0


@pytest.mark.parametrize(
    ("claims", "problem"),
    [
        ({"exp": NOW + 60}, None),
        ({"exp": NOW - 10, "nbf": NOW + 10, "iat": NOW + 10}, None),  # within the leeway
        ({}, LifetimeProblem.MISSING_EXP),
        ({"exp": None}, LifetimeProblem.MISSING_EXP),
        ({"exp": "9999999999"}, LifetimeProblem.MISSING_EXP),
        ({"exp": True}, LifetimeProblem.MISSING_EXP),
        ({"exp": float("nan")}, LifetimeProblem.MISSING_EXP),  # would never expire
        ({"exp": float("inf")}, LifetimeProblem.MISSING_EXP),
        ({"exp": 10**400}, LifetimeProblem.MISSING_EXP),  # float() would overflow
        ({"exp": NOW + 60, "nbf": "0"}, LifetimeProblem.MALFORMED_TIME),
        ({"exp": NOW + 60, "iat": float("-inf")}, LifetimeProblem.MALFORMED_TIME),
        ({"exp": NOW - LEEWAY}, LifetimeProblem.EXPIRED),
        ({"exp": NOW + 60, "nbf": NOW + LEEWAY + 1}, LifetimeProblem.NOT_YET_VALID),
        ({"exp": NOW + 60, "iat": NOW + LEEWAY + 1}, LifetimeProblem.ISSUED_IN_FUTURE),
    ],
)
def test_lifetime(claims: dict[str, object], problem: LifetimeProblem | None) -> None:
    assert lifetime_problem(claims, now=NOW, leeway=LEEWAY) is problem
