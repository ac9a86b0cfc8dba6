"""Schemathesis over the app's whole OpenAPI document, as a member and as an admin with MFA.

An attacker's fuzzer in CI (issue 13): every operation gets schema-valid and schema-invalid
requests (Hypothesis, derandomized, a bounded number per operation) on the real app with
the real IdP's tokens, on SQLite and on PostgreSQL. Every response must pass
Schemathesis's checks: no 5xx, a documented status code, the documented content type,
headers and body schema, and schema-invalid input rejected with a 4xx. Every failure of
every operation is collected and reported together, so one run names them all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import Case, GenerationMode
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.app import make_settings
from tests.support.blocking_app import BlockingApp, blocking_app
from tests.support.harness import HarnessEnv
from tests.support.idp import TEST_OTP, TokenSet, get_access_token

pytestmark = pytest.mark.integration

EXAMPLES_PER_MODE: Final = 8
CHECKS: Final[list[CheckFunction]] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Schemathesis's default rejections without 5xx (not_a_server_error fails those), plus 413:
# invalid input may also be refused as too large, a rejection like any other 4xx. Explicit
# config, so no schemathesis.toml found on the way changes what CI checks.
REJECTIONS: Final = ("400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428")
# Any: Schemathesis's operation generics (parameters, responses, security, schema).
Operation = schemathesis.APIOperation[Any, Any, Any, Any]
CONFIG: Final = schemathesis.Config.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": [*REJECTIONS, "429"]}}}
)
_MAX_REPORTED_PER_OPERATION: Final = 3
_MAX_MESSAGE: Final = 1500


@dataclass(frozen=True)
class Caller:
    """A real IdP login whose bearer token signs every generated request."""

    username: str
    mfa: bool


OWNER: Final = Caller("alice", mfa=False)
CALLERS: Final = (OWNER, Caller("adam", mfa=True))


@pytest.fixture(params=CALLERS, ids=lambda c: f"{c.username}{'-mfa' if c.mfa else ''}")
def caller(request: pytest.FixtureRequest) -> Caller:
    caller: Caller = request.param
    return caller


@pytest.fixture
def api(tmp_path: Path, database_url: str, harness_env: HarnessEnv) -> Iterator[BlockingApp]:
    # The fuzzer mints far faster than a person: with the default mint_rate -> step_up the
    # member's own sessions would be refused mid-run (the detector is tested elsewhere), so
    # every rule here only alerts.
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        env=harness_env,
        risk={
            "responses": {"mint_rate": "alert", "auth_failures": "alert", "session_fanout": "alert"}
        },
    )
    with blocking_app(settings) as app:
        yield app


def _send(app: BlockingApp, case: Case[Any], tokens: TokenSet) -> httpx.Response:
    # Any: the request keyword arguments Schemathesis serialised the case into.
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=_bearer(tokens))
    headers = dict(kwargs.get("headers") or {})
    if kwargs.get("cookies"):
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in kwargs["cookies"].items())
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["content"] = json.dumps(kwargs["json"]).encode()
    elif "data" in kwargs:
        body["content"] = kwargs["data"]
    return app.request(
        kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=headers, **body
    )


def _chain(exc: BaseException) -> str:
    """The exception and its causes, innermost last (the app's own error is often wrapped)."""
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(parts) < 4:
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return " <- ".join(parts)


def _fuzz(
    app: BlockingApp,
    operation: Operation,
    mode: GenerationMode,
    tokens: TokenSet,
    path_parameters: dict[str, str] | None = None,
) -> list[str]:
    failures: list[str] = []
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @hypothesis.settings(
        max_examples=EXAMPLES_PER_MODE,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def run(case: Case[Any]) -> None:
        body = "" if case.body is NOT_SET else f" body={case.body!r:.200}"
        request = f"{case.method} {case.formatted_path} query={case.query!r}{body}"
        try:
            response = _send(app, case, tokens)
        except Exception as exc:  # the app raised: a 500 in production
            failures.append(f"{request}: server error {_chain(exc)}"[:_MAX_MESSAGE])
            return
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as exc:  # every failing example, not just the first
            found = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
            for failure in found:
                text = f"{request} -> {response.status_code}: {failure.code} {failure.title}: "
                text += failure.message.replace(tokens.access_token, "<token>")
                failures.append(text[:_MAX_MESSAGE])

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        # Only where nothing sent over HTTP can violate the schema (e.g. a free-text query
        # string): every input Schemathesis could send is schema-valid, covered by POSITIVE.
        if mode is GenerationMode.POSITIVE:
            raise
    return failures


def _is_negatable(document: dict[str, Any], operation: Operation) -> bool:
    """Whether some request could violate the schema: a body, or a parameter that is not a
    free-form string (every path segment or query value already is a string)."""
    # Any: the OpenAPI document is free-form JSON.
    definition = document["paths"][operation.path][operation.method.lower()]
    if "requestBody" in definition:
        return True
    free_form = {"type", "title", "description"}
    return any(
        p["schema"].get("type") != "string" or set(p["schema"]) - free_form
        for p in definition.get("parameters", [])
    )


def _modes(document: dict[str, Any], operation: Operation) -> list[GenerationMode]:
    if _is_negatable(document, operation):
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


def _bearer(tokens: TokenSet) -> dict[str, str]:
    # A TokenSet, not the token, is passed around: its repr (in tracebacks) hides the token.
    return {"Authorization": f"Bearer {tokens.access_token}"}


def _login(env: HarnessEnv, caller: Caller) -> TokenSet:
    otp = TEST_OTP if caller.mfa else None
    return get_access_token(env, caller.username, f"{caller.username}-password", otp=otp)


def _real_session(app: BlockingApp, owner: TokenSet) -> str:
    """A live session (a member's: admins create none), so operations on it get past "no
    such session"."""
    response = app.request("POST", "/v1/sessions", json={}, headers=_bearer(owner))
    assert response.status_code == 201, response.text
    session_id: str = response.json()["session_id"]
    return session_id


def test_every_operation_meets_its_contract_under_fuzzing(
    api: BlockingApp, harness_env: HarnessEnv, caller: Caller
) -> None:
    tokens = _login(harness_env, caller)
    owner = _login(harness_env, OWNER)
    document = api.openapi()
    schema = schemathesis.openapi.from_dict(document, config=CONFIG)
    report: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        operations += 1
        runs: list[tuple[GenerationMode, dict[str, str] | None]]
        runs = [(mode, None) for mode in _modes(document, operation)]
        if "{session_id}" in operation.path:  # and once more on a live session of the caller
            runs.append((GenerationMode.POSITIVE, {"session_id": _real_session(api, owner)}))
        for mode, path_parameters in runs:
            failures = _fuzz(api, operation, mode, tokens, path_parameters)
            report.extend(
                f"{operation.label} [{mode}] {failure}"
                for failure in failures[:_MAX_REPORTED_PER_OPERATION]
            )
    assert operations > 30
    assert report == [], "\n\n".join(report)
