"""The policy test cases in policies/tests/ run against the real policy set."""

from __future__ import annotations

from collections import Counter

import pytest

from control_plane.authz.cases import (
    CaseResult,
    PolicyCase,
    load_cases,
    run_cases,
    run_policy_tests,
)
from control_plane.authz.engine import PolicySnapshot
from control_plane.authz.types import Action, AgentPrincipal, PrincipalRef, Role

from .factories import POLICY_DIR

CASES = tuple(load_cases(POLICY_DIR / "tests"))


@pytest.mark.parametrize("case", CASES, ids=[f"{c.file}:{c.name}" for c in CASES])
def test_policy_case(snapshot: PolicySnapshot, case: PolicyCase) -> None:
    (result,) = run_cases(snapshot, [case])
    assert result.problems == ()


def test_run_policy_tests_passes_on_the_real_directory() -> None:
    results: list[CaseResult] = run_policy_tests(POLICY_DIR)
    assert len(results) >= 30
    assert all(r.is_passed for r in results), [r.problems for r in results if not r.is_passed]


def test_case_names_are_unique() -> None:
    counts = Counter((c.file, c.name) for c in CASES)
    assert [key for key, n in counts.items() if n > 1] == []


def test_every_policy_is_pinned_by_a_case(snapshot: PolicySnapshot) -> None:
    pinned = {pid for c in CASES for pid in c.expected_policies or ()}
    assert {p.policy_id for p in snapshot.policies} - pinned == set()


def test_every_action_has_an_allow_and_a_deny_case() -> None:
    outcomes = {(c.request.action, c.expected_allow) for c in CASES}
    missing = [(a, e) for a in Action for e in (True, False) if (a, e) not in outcomes]
    assert missing == []


def test_every_role_and_the_agent_principal_have_cases() -> None:
    groups = {
        g
        for c in CASES
        if isinstance(c.request.principal, PrincipalRef)
        for g in c.request.principal.groups
    }
    assert {str(r) for r in Role} <= groups
    assert any(isinstance(c.request.principal, AgentPrincipal) for c in CASES)


def test_a_wrong_expectation_is_reported(snapshot: PolicySnapshot) -> None:
    case = next(c for c in CASES if c.expected_allow)
    flipped = PolicyCase(
        name=case.name,
        file=case.file,
        request=case.request,
        expected_allow=False,
        expected_policies=frozenset({"no-such-policy"}),
    )
    (result,) = run_cases(snapshot, [flipped])
    assert not result.is_passed
    assert len(result.problems) == 2
