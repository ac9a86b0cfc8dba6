"""The decision memo returns exactly what evaluation returns, and never outlives a snapshot."""

from __future__ import annotations

import dataclasses
from typing import cast

import cedarpy

from control_plane.authz.engine import PolicySnapshot, load_snapshot
from control_plane.authz.service import decide, decide_many
from control_plane.authz.types import JOIN_ACTIONS, RiskLevel
from tests.support.app import REPO
from tests.unit.authz.factories import make_principal, make_request


def test_a_hit_equals_a_fresh_evaluation_but_with_new_ids() -> None:
    snapshot = load_snapshot(REPO / "policies")
    requests = [make_request(action=a) for a in JOIN_ACTIONS]
    first = decide_many(snapshot, requests)
    second = decide_many(snapshot, requests)
    assert snapshot.memo.hits == 1
    assert [(d.allowed, d.determining_policies) for d in first] == [
        (d.allowed, d.determining_policies) for d in second
    ]
    assert {d.id for d in first}.isdisjoint({d.id for d in second})
    assert [d.masked_input for d in first] == [d.masked_input for d in second]


def test_a_changed_attribute_is_a_different_key() -> None:
    snapshot = load_snapshot(REPO / "policies")
    assert decide(snapshot, make_request()).allowed
    locked = decide(snapshot, make_request(principal=make_principal(locked=True)))
    assert not locked.allowed
    assert "forbid-locked-principal" in locked.determining_policies


def test_a_new_snapshot_starts_with_an_empty_memo_and_errors_are_not_kept() -> None:
    snapshot = load_snapshot(REPO / "policies")
    decide(snapshot, make_request())
    broken: PolicySnapshot = dataclasses.replace(
        snapshot, policy_set=cast(cedarpy.PolicySet, object())
    )
    assert broken.memo is not snapshot.memo
    assert decide(broken, make_request()).errors
    assert decide(broken, make_request()).errors
    assert broken.memo.hits == 0


def test_equal_requests_hit_whether_or_not_they_share_objects() -> None:
    snapshot = load_snapshot(REPO / "policies")
    one = make_request()
    shared = [dataclasses.replace(one, action=a) for a in JOIN_ACTIONS]  # the same objects
    copies = [  # equal objects, none shared
        dataclasses.replace(
            r,
            principal=dataclasses.replace(r.principal),
            resource=dataclasses.replace(r.resource),
            context=dataclasses.replace(r.context),
        )
        for r in shared
    ]
    first = decide_many(snapshot, shared)
    second = decide_many(snapshot, copies)
    third = decide_many(snapshot, shared)
    assert [(d.allowed, d.determining_policies) for d in first] == [
        (d.allowed, d.determining_policies) for d in second
    ]
    assert [(d.action, d.allowed) for d in third] == [(d.action, d.allowed) for d in first]
    assert snapshot.memo.hits >= 1


def test_a_context_that_differs_per_action_is_part_of_the_key() -> None:
    snapshot = load_snapshot(REPO / "policies")
    base = [make_request(action=a) for a in JOIN_ACTIONS]
    decide_many(snapshot, base)
    high = dataclasses.replace(base[0].context, risk_level=RiskLevel.HIGH, risk_score=90)
    mixed = [base[0], *(dataclasses.replace(r, context=high) for r in base[1:])]
    decisions = decide_many(snapshot, mixed)
    assert snapshot.memo.hits == 0
    assert decisions[0].allowed  # join itself at low risk
    assert not any(d.allowed for d in decisions[1:] if d.action.value.startswith("publish"))
