"""Policy test cases: JSON descriptions of requests with the expected answer, and a runner.

A case file in `policies/tests/*.json` is an object:

    {"principals": {"alice": {...}}, "resources": {"s1": {...}}, "cases": [case, ...]}

A case is `{name, principal, action, resource, context?, expected: "allow"|"deny",
expected_policies?}`. `principal` and `resource` are either a fixture name, an inline object,
or an object with `"ref": <fixture>` plus fields that override the fixture. The same parsers
turn an explain/what-if request body into an `AuthzRequest`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from control_plane.authz.engine import PolicySnapshot, load_snapshot
from control_plane.authz.errors import PolicyCaseInvalid
from control_plane.authz.service import decide
from control_plane.authz.types import (
    Action,
    AgentId,
    AgentPrincipal,
    AuthzRequest,
    Decision,
    DecisionId,
    PlatformResource,
    Principal,
    PrincipalRef,
    RequestContext,
    Resource,
    RiskLevel,
    SessionId,
    SessionResource,
    SubjectResource,
    TenantId,
    TenantResource,
)
from control_plane.identity.types import SubjectId

# Serialisation edge: case files and request bodies are untyped JSON until parsed here.
JsonObject = Mapping[str, Any]

CASES_DIR = "tests"


@dataclass(frozen=True, slots=True)
class PolicyCase:
    """One expectation about the policy set."""

    name: str
    file: str
    request: AuthzRequest
    expected_allow: bool
    expected_policies: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The outcome of one case; `problems` is empty exactly when it passed."""

    case: PolicyCase
    decision: Decision
    problems: tuple[str, ...]

    @property
    def is_passed(self) -> bool:
        """True when the decision matched every expectation of the case."""
        return not self.problems


def _str(obj: JsonObject, key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise PolicyCaseInvalid(f"field {key!r} must be a non-empty string")
    return value


def _bool(obj: JsonObject, key: str, default: bool = False) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise PolicyCaseInvalid(f"field {key!r} must be a boolean")
    return value


def _int(obj: JsonObject, key: str, default: int = 0) -> int:
    value = obj.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise PolicyCaseInvalid(f"field {key!r} must be an integer")
    return value


def _strings(obj: JsonObject, key: str) -> frozenset[str]:
    value = obj.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyCaseInvalid(f"field {key!r} must be a list of strings")
    return frozenset(value)


def parse_principal(obj: JsonObject) -> Principal:
    """Return a principal from `{type: User|Agent, id, tenant, ...}`; raise on any bad field."""
    kind = obj.get("type", "User")
    tenant = TenantId(_str(obj, "tenant"))
    if kind == "Agent":
        session = obj.get("session")
        if session is not None and not isinstance(session, str):
            raise PolicyCaseInvalid("field 'session' must be a string")
        return AgentPrincipal(
            agent_id=AgentId(_str(obj, "id")),
            tenant=tenant,
            session_id=SessionId(session) if session else None,
            locked=_bool(obj, "locked"),
        )
    if kind != "User":
        raise PolicyCaseInvalid(f"unknown principal type {kind!r}")
    acr = obj.get("acr", "")
    if not isinstance(acr, str):
        raise PolicyCaseInvalid("field 'acr' must be a string")
    return PrincipalRef(
        subject_id=SubjectId(_str(obj, "id")),
        tenant=tenant,
        groups=_strings(obj, "groups"),
        email_verified=_bool(obj, "email_verified"),
        locked=_bool(obj, "locked"),
        amr=_strings(obj, "amr"),
        acr=acr,
    )


def parse_resource(obj: JsonObject) -> Resource:
    """Return a resource from `{type: Session|Tenant|Subject|Platform, ...}`."""
    kind = obj.get("type")
    if kind == "Session":
        return SessionResource(
            session_id=SessionId(_str(obj, "id")),
            tenant=TenantId(_str(obj, "tenant")),
            owner=SubjectId(_str(obj, "owner")),
            participants=frozenset(SubjectId(p) for p in _strings(obj, "participants")),
            allow_video=_bool(obj, "allow_video"),
            allow_screen=_bool(obj, "allow_screen"),
            ended=_bool(obj, "ended"),
        )
    if kind == "Tenant":
        return TenantResource(tenant=TenantId(_str(obj, "id")))
    if kind == "Subject":
        return SubjectResource(
            subject_id=SubjectId(_str(obj, "id")), tenant=TenantId(_str(obj, "tenant"))
        )
    if kind == "Platform":
        return PlatformResource()
    raise PolicyCaseInvalid(f"unknown resource type {kind!r}")


def parse_context(obj: JsonObject) -> RequestContext:
    """Return a request context; absent fields take the low-risk defaults."""
    level = obj.get("risk_level", RiskLevel.LOW)
    try:
        risk_level = RiskLevel(level)
    except ValueError as exc:
        raise PolicyCaseInvalid(f"unknown risk_level {level!r}") from exc
    return RequestContext(
        risk_score=_int(obj, "risk_score"),
        risk_level=risk_level,
        requested_ttl_s=_int(obj, "requested_ttl_s"),
    )


def parse_action(value: object) -> Action:
    """Return the action named by `value`; raise `PolicyCaseInvalid` for unknown names."""
    try:
        return Action(str(value))
    except ValueError as exc:
        raise PolicyCaseInvalid(f"unknown action {value!r}") from exc


def _resolve(value: object, fixtures: JsonObject, what: str) -> JsonObject:
    if isinstance(value, str):
        value = {"ref": value}
    if not isinstance(value, Mapping):
        raise PolicyCaseInvalid(f"{what} must be a fixture name or an object")
    ref = value.get("ref")
    if ref is None:
        return value
    base = fixtures.get(ref)
    if not isinstance(base, Mapping):
        raise PolicyCaseInvalid(f"unknown {what} fixture {ref!r}")
    return {**base, **{k: v for k, v in value.items() if k != "ref"}}


def parse_request(obj: JsonObject, fixtures: JsonObject | None = None) -> AuthzRequest:
    """Return the request an object describes (fixtures: `principals`, `resources`)."""
    fixtures = fixtures or {}
    context = obj.get("context", {})
    if not isinstance(context, Mapping):
        raise PolicyCaseInvalid("context must be an object")
    return AuthzRequest(
        principal=parse_principal(
            _resolve(obj.get("principal"), fixtures.get("principals", {}), "principal")
        ),
        action=parse_action(obj.get("action")),
        resource=parse_resource(
            _resolve(obj.get("resource"), fixtures.get("resources", {}), "resource")
        ),
        context=parse_context(context),
    )


def parse_case(obj: JsonObject, *, file: str, fixtures: JsonObject) -> PolicyCase:
    """Return one case; the name and the expectation are mandatory."""
    name = _str(obj, "name")
    expected = obj.get("expected")
    if expected not in ("allow", "deny"):
        raise PolicyCaseInvalid(f"{file}: case {name!r}: expected must be 'allow' or 'deny'")
    policies = obj.get("expected_policies")
    try:
        request = parse_request(obj, fixtures)
    except PolicyCaseInvalid as exc:
        raise PolicyCaseInvalid(f"{file}: case {name!r}: {exc.message}") from exc
    return PolicyCase(
        name=name,
        file=file,
        request=request,
        expected_allow=expected == "allow",
        expected_policies=None if policies is None else _strings(obj, "expected_policies"),
    )


def load_cases(directory: Path) -> list[PolicyCase]:
    """Return every case of every `*.json` file in `directory`, in file then listed order."""
    cases: list[PolicyCase] = []
    for path in sorted(directory.glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PolicyCaseInvalid(f"{path.name}: cannot read cases ({exc})") from exc
        if not isinstance(document, Mapping) or not isinstance(document.get("cases"), list):
            raise PolicyCaseInvalid(f"{path.name}: expected an object with a 'cases' list")
        for obj in document["cases"]:
            if not isinstance(obj, Mapping):
                raise PolicyCaseInvalid(f"{path.name}: every case must be an object")
            cases.append(parse_case(obj, file=path.name, fixtures=document))
    return cases


def _check(case: PolicyCase, decision: Decision) -> tuple[str, ...]:
    problems: list[str] = []
    if decision.allowed != case.expected_allow:
        want, got = ("allow", "deny") if case.expected_allow else ("deny", "allow")
        problems.append(f"expected {want}, got {got}")
    got_policies = frozenset(decision.determining_policies)
    if case.expected_policies is not None and got_policies != case.expected_policies:
        problems.append(
            f"expected policies {sorted(case.expected_policies)}, got {sorted(got_policies)}"
        )
    problems.extend(f"engine error: {e}" for e in decision.errors)
    return tuple(problems)


def run_cases(snapshot: PolicySnapshot, cases: Sequence[PolicyCase]) -> list[CaseResult]:
    """Decide every case against `snapshot` and report each mismatch."""
    results: list[CaseResult] = []
    for index, case in enumerate(cases):
        decision = decide(snapshot, case.request, decision_id=DecisionId(f"case-{index}"))
        results.append(CaseResult(case=case, decision=decision, problems=_check(case, decision)))
    return results


def run_policy_tests(store_dir: Path) -> list[CaseResult]:
    """Load and validate the policy set in `store_dir`, then run `store_dir/tests/*.json`."""
    return run_cases(load_snapshot(store_dir), load_cases(store_dir / CASES_DIR))
