"""Decisions: deny by default, forbid wins, and fail closed on any engine error.

`decide_many` groups requests by (principal, resource) and makes ONE batched Cedar call per
group, so the media actions of a join cost one evaluation, not six.
"""

from __future__ import annotations

import secrets
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import cedarpy

from control_plane.authz.engine import PolicyInfo, PolicySnapshot
from control_plane.authz.entities import build_cedar_request, build_entities, mask_request
from control_plane.authz.memo import Answer
from control_plane.authz.types import (
    AuthzRequest,
    Decision,
    DecisionId,
    Principal,
    Resource,
)

MAX_ERROR_CHARS = 500
"""Engine messages can echo the entity JSON; cap them so an audit record stays small."""
_HEAD_CHARS = 150


@dataclass(frozen=True, slots=True)
class Explanation:
    """A decision with the policies that determined it and human-readable reasons."""

    decision: Decision
    policies: tuple[PolicyInfo, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WhatIf:
    """One request decided by the current and by a candidate policy set."""

    request: AuthzRequest
    current: Decision
    candidate: Decision

    @property
    def is_changed(self) -> bool:
        """True when the candidate set would answer differently (allow/deny)."""
        return self.current.allowed != self.candidate.allowed


def _new_id() -> DecisionId:
    # 128 random bits as 32 hex digits (the form uuid4().hex had, at a third of the cost).
    return DecisionId(secrets.token_hex(16))


def _trim(message: str) -> str:
    # Keep both ends: Cedar puts the echoed input first and the actual reason last.
    if len(message) <= MAX_ERROR_CHARS:
        return message
    tail = MAX_ERROR_CHARS - _HEAD_CHARS - 5
    return f"{message[:_HEAD_CHARS]} ... {message[-tail:]}"


def _deny_all(
    snapshot: PolicySnapshot,
    requests: Sequence[AuthzRequest],
    ids: Sequence[DecisionId],
    error: str,
) -> list[Decision]:
    return [
        Decision(
            id=decision_id,
            action=request.action,
            allowed=False,
            determining_policies=(),
            errors=(_trim(error),),
            policy_version=snapshot.version,
            masked_input=mask_request(request),
        )
        for request, decision_id in zip(requests, ids, strict=True)
    ]


def _to_decision(
    snapshot: PolicySnapshot,
    request: AuthzRequest,
    decision_id: DecisionId,
    result: cedarpy.AuthzResult,
) -> Decision:
    errors = tuple(_trim(str(e)) for e in result.diagnostics.errors)
    # Fail closed: Cedar skips a policy whose evaluation errors, so a broken forbid could
    # let a permit through. Any error at all turns the answer into a deny.
    allowed = bool(result.allowed) and not errors
    names = result.diagnostics.id_annotations_by_reason
    determining = (
        tuple(sorted(names.get(pid, pid) for pid in result.diagnostics.reasons))
        if allowed or not errors
        else ()
    )
    return Decision(
        id=decision_id,
        action=request.action,
        allowed=allowed,
        determining_policies=determining,
        errors=errors,
        policy_version=snapshot.version,
        masked_input=mask_request(request),
    )


def _evaluate_group(
    snapshot: PolicySnapshot,
    requests: Sequence[AuthzRequest],
    ids: Sequence[DecisionId],
) -> list[Decision]:
    key = _memo_key(requests)
    answers = snapshot.memo.get(key)
    if answers is not None:
        return [
            Decision(
                id=decision_id,
                action=request.action,
                allowed=answer.allowed,
                determining_policies=answer.determining_policies,
                errors=(),
                policy_version=snapshot.version,
                masked_input=answer.masked_input,
            )
            for request, decision_id, answer in zip(requests, ids, answers, strict=True)
        ]
    decisions = _evaluate_uncached(snapshot, requests, ids)
    if not any(d.errors for d in decisions):
        snapshot.memo.put(
            key,
            tuple(Answer(d.allowed, d.determining_policies, d.masked_input) for d in decisions),
        )
    return decisions


def _memo_key(requests: Sequence[AuthzRequest]) -> Hashable:
    """Every input of a group's evaluation (its requests share principal and resource), with
    the principal, resource and a shared context hashed once, not once per action."""
    first = requests[0]
    actions = tuple(r.action for r in requests)
    if all(r.context is first.context for r in requests):
        return (first.principal, first.resource, first.context, actions)
    return (first.principal, first.resource, actions, tuple(r.context for r in requests), None)


def _evaluate_uncached(
    snapshot: PolicySnapshot,
    requests: Sequence[AuthzRequest],
    ids: Sequence[DecisionId],
) -> list[Decision]:
    try:
        entities = build_entities(requests[0].principal, requests[0].resource)
        results = cedarpy.is_authorized_batch(
            [build_cedar_request(r) for r in requests],
            snapshot.policy_set,
            entities,
            schema=snapshot.schema,
        )
        if len(results) != len(requests):
            raise RuntimeError("engine returned a result count that does not match")
        return [
            _to_decision(snapshot, request, decision_id, result)
            for request, decision_id, result in zip(requests, ids, results, strict=True)
        ]
    # Fail closed at the engine boundary: whatever the binding raises is a deny, recorded.
    except Exception as exc:
        return _deny_all(snapshot, requests, ids, f"engine_error: {type(exc).__name__}: {exc}")


def decide_many(
    snapshot: PolicySnapshot,
    requests: Sequence[AuthzRequest],
    *,
    decision_ids: Sequence[DecisionId] | None = None,
) -> list[Decision]:
    """Decide every request, in order, with one Cedar batch per (principal, resource) pair.

    Each result equals what `decide` returns for that request alone; an engine failure denies
    every request of the affected batch and records the error on each decision.
    """
    ids = list(decision_ids) if decision_ids is not None else [_new_id() for _ in requests]
    if len(ids) != len(requests):
        raise ValueError("decision_ids must have one id per request")
    groups: dict[tuple[Principal, Resource], list[int]] = {}
    first = requests[0] if requests else None
    if first is not None and all(
        r.principal is first.principal and r.resource is first.resource for r in requests
    ):  # the usual batch (every action of one join): no hashing needed to group it
        groups[(first.principal, first.resource)] = list(range(len(requests)))
    else:
        for index, request in enumerate(requests):
            groups.setdefault((request.principal, request.resource), []).append(index)
    decisions: list[Decision | None] = [None] * len(requests)
    for indexes in groups.values():
        batch = _evaluate_group(snapshot, [requests[i] for i in indexes], [ids[i] for i in indexes])
        for index, decision in zip(indexes, batch, strict=True):
            decisions[index] = decision
    return [d for d in decisions if d is not None]


def decide(
    snapshot: PolicySnapshot, request: AuthzRequest, *, decision_id: DecisionId | None = None
) -> Decision:
    """Decide one request: allowed only if a permit matched, no forbid did and nothing failed."""
    return _evaluate_group(snapshot, [request], [decision_id or _new_id()])[0]


def _reasons(decision: Decision, policies: Sequence[PolicyInfo]) -> tuple[str, ...]:
    if decision.errors:
        return tuple(f"denied: evaluation failed, fail closed ({e})" for e in decision.errors)
    if not policies:
        return ("denied by default: no permit policy matched",)
    verb = "allowed" if decision.allowed else "denied"
    return tuple(f"{verb} by {p.effect} policy {p.policy_id!r} ({p.file})" for p in policies)


def explain(
    snapshot: PolicySnapshot, request: AuthzRequest, *, decision_id: DecisionId | None = None
) -> Explanation:
    """Decide one request and say why: the determining policies, their files and effects."""
    decision = decide(snapshot, request, decision_id=decision_id)
    policies = tuple(
        info
        for info in (snapshot.find_policy(pid) for pid in decision.determining_policies)
        if info is not None
    )
    return Explanation(decision=decision, policies=policies, reasons=_reasons(decision, policies))


def what_if(
    current: PolicySnapshot, candidate: PolicySnapshot, requests: Sequence[AuthzRequest]
) -> list[WhatIf]:
    """Decide each request under both sets, so a policy change can be reviewed before reload."""
    before = decide_many(current, requests)
    after = decide_many(candidate, requests)
    return [
        WhatIf(request=r, current=b, candidate=a)
        for r, b, a in zip(requests, before, after, strict=True)
    ]
