"""Input PostgreSQL cannot store (NUL) or no encoder can (a lone surrogate) is a 4xx on
every route, before the route runs: it was a 503 wherever it reached a query (T-DOS-6)."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.app import RunningApp
from tests.support.harness import HarnessEnv
from tests.support.idp import get_access_token

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

PATHS = [
    ("DELETE", "/v1/me/sessions/%00"),
    ("GET", "/v1/sessions/%00/metrics"),
    ("POST", "/v1/sessions/%00/token"),
    ("POST", "/v1/sessions/%00/end"),
    ("POST", "/v1/subjects/%00/lock"),
    ("DELETE", "/v1/subjects/%00/data"),
    ("PUT", "/v1/subjects/ab%01cd/legal-hold"),
]
QUERIES = ["/v1/audit?actor=%00", "/v1/me/data?audit_after=%00", "/auth/callback?code=%00&state=x"]
BODIES = [
    ("POST", "/v1/sessions", b'{"invite": "abcdefgh\\u0000"}'),
    ("POST", "/v1/sessions/s1/token", b'{"invite": "\\ud800abcdefgh"}'),
    ("POST", "/v1/subjects/sub_x/lock", b'{"reason": "bad \\udfff"}'),
    ("POST", "/v1/policies/decide", b'{"action": "join\\u0000", "context": {}}'),
]


async def _bearer(env: HarnessEnv) -> dict[str, str]:
    tokens = await asyncio.to_thread(get_access_token, env, "audrey", "audrey-password")
    return {"Authorization": f"Bearer {tokens.access_token}"}


async def test_nul_in_a_path_matches_no_route(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    headers = await _bearer(harness_env)
    for method, path in PATHS:
        response = await live_app.client.request(method, path, headers=headers, json={})
        assert response.status_code == 404, (method, path, response.text)
        assert set(response.json()) == {"error", "detail", "request_id"}


async def test_nul_in_a_query_is_422(live_app: RunningApp, harness_env: HarnessEnv) -> None:
    headers = await _bearer(harness_env)
    for path in QUERIES:
        response = await live_app.client.get(path, headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"] == "invalid"


async def test_nul_or_a_lone_surrogate_in_a_json_body_is_422(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    headers = {**await _bearer(harness_env), "Content-Type": "application/json"}
    for method, path, body in BODIES:
        response = await live_app.client.request(method, path, headers=headers, content=body)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["detail"] == "body: NUL or unpaired surrogate in a string"
    # A proper surrogate pair (an emoji) and an escaped backslash are fine.
    fine = b'{"reason": "ok \\ud83d\\ude00 and \\\\u0000"}'
    response = await live_app.client.post("/v1/subjects/sub_x/lock", headers=headers, content=fine)
    assert response.status_code != 422 or "NUL" not in response.text
    assert response.status_code < 500
