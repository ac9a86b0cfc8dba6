"""Parsing of policy test cases and explain request bodies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from control_plane.authz.cases import load_cases, parse_request
from control_plane.authz.errors import PolicyCaseInvalid
from control_plane.authz.types import (
    Action,
    AgentPrincipal,
    PlatformResource,
    PrincipalRef,
    RiskLevel,
    SessionResource,
)

USER = {
    "type": "User",
    "id": "alice",
    "tenant": "acme",
    "groups": ["member"],
    "email_verified": True,
}
ROOM = {"type": "Session", "id": "r", "tenant": "acme", "owner": "alice"}


def test_fixture_references_are_merged_with_overrides() -> None:
    fixtures = {"principals": {"alice": USER}, "resources": {"room": ROOM}}
    request = parse_request(
        {
            "principal": {"ref": "alice", "locked": True},
            "action": "join",
            "resource": "room",
            "context": {"risk_level": "high"},
        },
        fixtures,
    )
    assert isinstance(request.principal, PrincipalRef)
    assert request.principal.locked
    assert request.principal.groups == frozenset({"member"})
    assert isinstance(request.resource, SessionResource)
    assert request.action is Action.JOIN
    assert request.context.risk_level is RiskLevel.HIGH


def test_agent_and_platform_parse() -> None:
    request = parse_request(
        {
            "principal": {"type": "Agent", "id": "a", "tenant": "acme", "session": "r"},
            "action": "write_transcript",
            "resource": {"type": "Platform"},
        }
    )
    assert isinstance(request.principal, AgentPrincipal)
    assert request.principal.session_id == "r"
    assert isinstance(request.resource, PlatformResource)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"principal": USER, "action": "fly", "resource": ROOM}, "unknown action"),
        (
            {"principal": {**USER, "type": "Robot"}, "action": "join", "resource": ROOM},
            "principal type",
        ),
        ({"principal": USER, "action": "join", "resource": {"type": "Room"}}, "resource type"),
        ({"principal": {**USER, "locked": "yes"}, "action": "join", "resource": ROOM}, "'locked'"),
        (
            {"principal": {**USER, "groups": "member"}, "action": "join", "resource": ROOM},
            "'groups'",
        ),
        ({"principal": "nobody", "action": "join", "resource": ROOM}, "unknown principal fixture"),
        (
            {
                "principal": USER,
                "action": "join",
                "resource": ROOM,
                "context": {"risk_score": True},
            },
            "risk_score",
        ),
        (
            {"principal": USER, "action": "join", "resource": ROOM, "context": {"risk_level": "x"}},
            "risk_level",
        ),
        ({"principal": 3, "action": "join", "resource": ROOM}, "fixture name or an object"),
    ],
)
def test_bad_request_bodies_are_refused(body: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyCaseInvalid, match=message):
        parse_request(body)


def test_case_file_errors_name_the_file_and_case(tmp_path: Path) -> None:
    case = {
        "name": "c1",
        "principal": USER,
        "action": "join",
        "resource": ROOM,
        "expected": "maybe",
    }
    (tmp_path / "x.json").write_text(json.dumps({"cases": [case]}))
    with pytest.raises(PolicyCaseInvalid, match=r"x\.json: case 'c1'"):
        load_cases(tmp_path)


def test_case_file_must_hold_a_case_list(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("[]")
    with pytest.raises(PolicyCaseInvalid, match="'cases' list"):
        load_cases(tmp_path)
