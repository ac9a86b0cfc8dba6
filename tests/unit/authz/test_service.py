"""decide / decide_many / explain / what_if with the real engine and the real policies."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import cast

import cedarpy
import pytest

from control_plane.authz.engine import PolicySnapshot, load_snapshot
from control_plane.authz.service import decide, decide_many, explain, what_if
from control_plane.authz.types import (
    JOIN_ACTIONS,
    Action,
    AgentId,
    AgentPrincipal,
    AuthzRequest,
    DecisionId,
    JsonValue,
    SessionId,
    TenantId,
)

from .factories import make_principal, make_request, make_session

PII_KEYS = {"email", "name", "given_name", "family_name", "phone", "ip", "address", "sub"}


def _keys(value: JsonValue) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def _strings(value: JsonValue) -> set[str]:
    if isinstance(value, dict):
        return {s for v in value.values() for s in _strings(v)}
    if isinstance(value, list):
        return {s for v in value for s in _strings(v)}
    return {value} if isinstance(value, str) else set()


def _mixed_requests() -> list[AuthzRequest]:
    alice, bob, carol = make_principal(), make_principal("bob"), make_principal("carol")
    room = make_session(allow_video=True)
    agent = AgentPrincipal(AgentId("agent-1"), TenantId("acme"), SessionId("room-1"))
    requests = [
        make_request(principal=p, action=a, resource=room)
        for p in (alice, bob, carol)
        for a in JOIN_ACTIONS
    ]
    requests.append(AuthzRequest(principal=agent, action=Action.WRITE_TRANSCRIPT, resource=room))
    requests.append(make_request(action=Action.JOIN, resource=make_session(tenant="globex")))
    return requests


def test_owner_gets_voice_grants_but_not_screen(snapshot: PolicySnapshot) -> None:
    decisions = decide_many(snapshot, [make_request(action=a) for a in JOIN_ACTIONS])
    allowed = {d.action for d in decisions if d.allowed}
    assert allowed == {Action.JOIN, Action.PUBLISH_AUDIO, Action.PUBLISH_DATA, Action.SUBSCRIBE}


def test_decide_many_equals_individual_decides(snapshot: PolicySnapshot) -> None:
    requests = _mixed_requests()
    ids = [DecisionId(f"d{i}") for i in range(len(requests))]
    batched = decide_many(snapshot, requests, decision_ids=ids)
    single = [decide(snapshot, r, decision_id=i) for r, i in zip(requests, ids, strict=True)]
    assert batched == single
    assert [d.action for d in batched] == [r.action for r in requests]


def test_decide_many_needs_one_id_per_request(snapshot: PolicySnapshot) -> None:
    with pytest.raises(ValueError, match="one id per request"):
        decide_many(snapshot, [make_request()], decision_ids=[])


def test_decision_records_id_version_and_policy(snapshot: PolicySnapshot) -> None:
    decision = decide(snapshot, make_request(), decision_id=DecisionId("fixed"))
    assert decision.id == "fixed"
    assert decision.allowed
    assert decision.policy_version == snapshot.version
    assert decision.determining_policies == ("member-voice-in-own-or-invited-session",)
    assert decision.errors == ()


def test_decision_ids_are_fresh_uuids(snapshot: PolicySnapshot) -> None:
    first, second = decide(snapshot, make_request()), decide(snapshot, make_request())
    assert first.id != second.id
    assert len(first.id) == 32


def test_masked_input_holds_pseudonyms_and_flags_only(snapshot: PolicySnapshot) -> None:
    room = make_session(participants=frozenset({"bob", "carol"}))
    decision = decide(snapshot, make_request(resource=room))
    masked = decision.masked_input
    assert _keys(masked) & PII_KEYS == set()
    assert "participants" not in _keys(masked)
    assert "carol" not in _strings(masked)
    assert masked["principal"] == {
        "type": "User",
        "id": "alice",
        "tenant": "acme",
        "groups": ["member"],
        "email_verified": True,
        "locked": False,
        "amr": ["pwd"],
        "acr": "",
    }


def test_schema_mismatch_in_the_engine_denies_with_the_error(snapshot: PolicySnapshot) -> None:
    narrower = cedarpy.Schema.from_str(snapshot.schema_text.replace("allow_screen: Bool,", ""))
    broken = dataclasses.replace(snapshot, schema=narrower)
    decisions = decide_many(broken, [make_request(action=a) for a in JOIN_ACTIONS])
    assert not any(d.allowed for d in decisions)
    assert all(d.errors and d.determining_policies == () for d in decisions)
    assert all("allow_screen" in d.errors[0] for d in decisions)


def test_an_erroring_forbid_does_not_let_a_permit_through(snapshot: PolicySnapshot) -> None:
    # Cedar skips a policy whose evaluation fails and would answer Allow here.
    unvalidated = cedarpy.PolicySet.from_str(
        '@id("permit-all") permit (principal, action, resource);\n'
        '@id("broken-forbid") forbid (principal, action, resource) when { principal.nope };\n'
    )
    broken = dataclasses.replace(snapshot, policy_set=unvalidated)
    decision = decide(broken, make_request())
    assert not decision.allowed
    assert decision.determining_policies == ()
    assert any("nope" in e for e in decision.errors)


def test_engine_exception_denies_every_request_of_the_batch(snapshot: PolicySnapshot) -> None:
    broken = dataclasses.replace(snapshot, policy_set=cast(cedarpy.PolicySet, object()))
    decisions = decide_many(broken, [make_request(action=a) for a in JOIN_ACTIONS])
    assert [d.allowed for d in decisions] == [False] * len(JOIN_ACTIONS)
    assert all(d.errors[0].startswith("engine_error: ") for d in decisions)
    assert all(len(e) <= 500 for d in decisions for e in d.errors)


def test_explain_names_the_forbid_and_its_file(snapshot: PolicySnapshot) -> None:
    explanation = explain(snapshot, make_request(principal=make_principal(locked=True)))
    assert not explanation.decision.allowed
    assert [(p.policy_id, p.effect, p.file) for p in explanation.policies] == [
        ("forbid-locked-principal", "forbid", "guardrails.cedar")
    ]
    assert explanation.reasons == (
        "denied by forbid policy 'forbid-locked-principal' (guardrails.cedar)",
    )


def test_explain_reports_default_deny(snapshot: PolicySnapshot) -> None:
    explanation = explain(snapshot, make_request(principal=make_principal("carol")))
    assert explanation.reasons == ("denied by default: no permit policy matched",)


def test_explain_reports_the_permit(snapshot: PolicySnapshot) -> None:
    explanation = explain(snapshot, make_request(action=Action.DISPATCH_AGENT))
    assert explanation.reasons == (
        "allowed by permit policy 'member-dispatch-agent-own-session' (member.cedar)",
    )


def test_what_if_shows_the_effect_of_a_candidate_set(
    snapshot: PolicySnapshot, policy_copy: Path
) -> None:
    (policy_copy / "video.cedar").write_text(
        '@id("member-video-everywhere")\n'
        'permit (principal in Group::"member", action == Action::"publish_video",\n'
        "  resource is Session)\n"
        "when { resource.owner == principal };\n"
    )
    candidate = load_snapshot(policy_copy)
    requests = [make_request(action=a) for a in JOIN_ACTIONS]
    changes = {w.request.action for w in what_if(snapshot, candidate, requests) if w.is_changed}
    assert changes == {Action.PUBLISH_VIDEO}
