"""The bearer attack corpus: every forged, expired, misdirected or malformed token gets
the same 401, and the exact reason lands in the audit log."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from livekit import api
from sqlmodel import col, select

from control_plane.audit.tables import AuditRecord
from control_plane.store.uow import unit_of_work
from tests.support.app import RunningApp, make_settings, running_app
from tests.support.forge import (
    hs256_with_public_key,
    sign_as_idp,
    sign_raw_payload_as_idp,
    sign_with_attacker_key,
    unsigned,
    unverified_claims,
    with_raw_header,
)
from tests.support.harness import HarnessEnv
from tests.support.idp import get_access_token, get_client_credentials_token

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

Claims = dict[str, Any]
Forger = Callable[[HarnessEnv, Claims], str]


def _shift(claims: Claims, **changes: Any) -> Claims:
    return {**claims, **changes}


def _expired(env: HarnessEnv, c: Claims) -> str:
    now = int(time.time())
    return sign_as_idp(_shift(c, iat=now - 3600, exp=now - 600))


def _not_yet(env: HarnessEnv, c: Claims) -> str:
    return sign_as_idp(_shift(c, nbf=int(time.time()) + 3600))


def _future_iat(env: HarnessEnv, c: Claims) -> str:
    return sign_as_idp(_shift(c, iat=int(time.time()) + 3600))


def _wrong_issuer(env: HarnessEnv, c: Claims) -> str:
    return sign_as_idp(_shift(c, iss="http://127.0.0.1:9401"))


def _wrong_audience(env: HarnessEnv, c: Claims) -> str:
    return sign_as_idp(_shift(c, aud="urn:someone-else:api"))


def _no_exp(env: HarnessEnv, c: Claims) -> str:
    return sign_as_idp({k: v for k, v in c.items() if k != "exp"})


def _id_token_type(env: HarnessEnv, c: Claims) -> str:
    return sign_as_idp(c, typ="JWT+id")


def _id_token(env: HarnessEnv, c: Claims) -> str:
    token = get_access_token(env, "alice", "alice-password", client="cp-web").id_token
    assert token is not None
    return token


def _livekit_token(env: HarnessEnv, c: Claims) -> str:
    return (
        api.AccessToken(env.livekit_api_key, env.livekit_api_secret)
        .with_identity("alice")
        .with_grants(api.VideoGrants(room_join=True, room="r"))
        .to_jwt()
    )


CORPUS: dict[str, Forger] = {
    "alg_none": lambda env, c: unsigned(c, kid="rs256-x"),
    "hs256_with_idp_public_key": lambda env, c: hs256_with_public_key(c),
    "unknown_kid": lambda env, c: sign_with_attacker_key(c, kid="attacker-key"),
    "known_kid_wrong_key": lambda env, c: sign_with_attacker_key(
        c,
        kid=jwt.get_unverified_header(get_access_token(env, "bob", "bob-password").access_token)[
            "kid"
        ],
    ),
    "expired": _expired,
    "nbf_in_future": _not_yet,
    "iat_in_future": _future_iat,
    "wrong_issuer": _wrong_issuer,
    "wrong_audience": _wrong_audience,
    "no_exp": _no_exp,
    "wrong_typ": _id_token_type,
    "id_token_as_access_token": _id_token,
    "livekit_token_as_bearer": _livekit_token,
    "client_credentials_without_user": lambda env, c: (
        get_client_credentials_token(env).access_token
    ),
    "oversized": lambda env, c: sign_as_idp(_shift(c, pad="A" * 20_000)),
    "truncated": lambda env, c: sign_as_idp(c)[:-20],
    "garbage": lambda env, c: "not-a-token-at-all",
    "three_dots_garbage": lambda env, c: "a.b.c",
    "session_cookie_value_as_bearer": lambda env, c: "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA",
}


@pytest.fixture(scope="module")
def alice_claims(harness_env: HarnessEnv) -> Claims:
    return unverified_claims(get_access_token(harness_env, "alice", "alice-password").access_token)


async def test_a_genuine_token_is_accepted(live_app: RunningApp, harness_env: HarnessEnv) -> None:
    token = get_access_token(harness_env, "alice", "alice-password").access_token
    response = await live_app.client.get(
        "/auth/session", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.json()["method"] == "bearer"


async def test_the_idp_key_re_signing_itself_is_accepted(
    live_app: RunningApp, alice_claims: Claims
) -> None:
    # Control for the corpus: our forger's valid output passes, so each failure below is
    # due to the one claim it changes.
    now = int(time.time())
    token = sign_as_idp(_shift(alice_claims, iat=now, exp=now + 300))
    response = await live_app.client.get(
        "/auth/session", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("attack", sorted(CORPUS))
async def test_attack_gets_the_generic_401_and_is_audited(
    attack: str, live_app: RunningApp, harness_env: HarnessEnv, alice_claims: Claims
) -> None:
    now = int(time.time())
    fresh = _shift(alice_claims, iat=now, exp=now + 300)
    token = CORPUS[attack](harness_env, fresh)
    response = await live_app.client.post(
        "/v1/sessions", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401, (attack, response.text)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["detail"] == "authentication required"
    assert token[:40] not in response.text
    async with unit_of_work(live_app.state.engine) as tx:
        rejected = (
            await tx.exec(
                select(AuditRecord).where(col(AuditRecord.event_type) == "auth.bearer_rejected")
            )
        ).all()
    assert len(rejected) == 1
    assert rejected[0].reason
    assert token[:40] not in str(rejected[0].details)


@pytest.mark.parametrize(
    "header", ["Basic YWxpY2U6cHc=", "Bearer", "Bearer    ", "bearer\tx", "Token abc"]
)
async def test_malformed_authorization_headers(live_app: RunningApp, header: str) -> None:
    response = await live_app.client.post(
        "/v1/sessions", json={}, headers={"Authorization": header}
    )
    assert response.status_code == 401


async def test_a_flood_of_garbage_bearers_is_refused_but_audited_only_up_to_the_budget(
    tmp_path: Path, harness_env: HarnessEnv
) -> None:
    settings = make_settings(tmp_path, env=harness_env, risk={"rejection_audit_limit": "3/hour"})
    async with running_app(settings) as app:
        statuses = [
            (
                await app.client.post(
                    "/v1/sessions", json={}, headers={"Authorization": f"Bearer garbage-{i}"}
                )
            ).status_code
            for i in range(12)
        ]
        assert statuses == [401] * 12
        async with unit_of_work(app.state.engine) as tx:
            rejected = (
                await tx.exec(
                    select(AuditRecord).where(col(AuditRecord.event_type) == "auth.bearer_rejected")
                )
            ).all()
        # The limiter's window follows the wall clock: the burst may straddle one boundary.
        assert 3 <= len(rejected) <= 6


# Authentic tokens (the IdP's own key) whose claims are unusable: a compromised or
# misconfigured IdP, or a federated upstream passing values through. Each was a 500 or a
# 503 (auth_time past datetime's range, NUL refused by PostgreSQL, a lone surrogate by
# every encoder); each is now the generic 401, audited by claim name, never by value.
BAD_CLAIMS: dict[str, Claims] = {
    "auth_time_1e20": {"auth_time": 1e20},
    "auth_time_huge_integer": {"auth_time": 10**20},
    "auth_time_negative": {"auth_time": -1},
    "auth_time_nan": {"auth_time": float("nan")},
    "auth_time_float": {"auth_time": 1700000000.5},
    "auth_time_boolean": {"auth_time": True},
    "auth_time_string": {"auth_time": "1700000000"},
    "tenant_with_nul": {"tenant": "acme\x00"},
    "tenant_lone_surrogate": {"tenant": "acme\ud800"},
    "tenant_control_character": {"tenant": "acme\x1b[31m"},
    "tenant_oversized": {"tenant": "a" * 129},
    "tenant_a_number": {"tenant": 7},
    "tenant_a_list": {"tenant": ["acme"]},
    "groups_a_number": {"groups": 5},
    "groups_an_object": {"groups": {"admin": True}},
    "group_not_a_string": {"groups": ["member", 5]},
    "group_with_nul": {"groups": ["member\x00admin"]},
    "group_oversized": {"groups": ["g" * 129]},
    "too_many_groups": {"groups": [f"g{i}" for i in range(65)]},
    "amr_with_surrogate": {"amr": ["pwd\udfff"]},
    "acr_a_number": {"acr": 3},
    "acr_with_nul": {"acr": "\x00"},
    "email_verified_a_string": {"email_verified": "true"},
    "sub_with_nul": {"sub": "alice\x00"},
    "sub_lone_surrogate": {"sub": "\ud800alice"},
    "sub_a_number": {"sub": 42},
}


@pytest.mark.parametrize("case", sorted(BAD_CLAIMS))
async def test_unusable_claims_in_an_authentic_token_are_the_generic_401(
    case: str, live_app: RunningApp, alice_claims: Claims
) -> None:
    now = int(time.time())
    token = sign_as_idp(_shift(alice_claims, iat=now, exp=now + 300, **BAD_CLAIMS[case]))
    await _assert_refused_and_audited(live_app, token)


def _deeply_nested_payload(claims: Claims) -> bytes:
    # Past the JSON parser's recursion limit, within the 8 KiB token size limit.
    return json.dumps(claims).encode()[:-1] + b', "x": ' + b"[" * 2400 + b"]" * 2400 + b"}"


@pytest.mark.parametrize(
    "case", ["payload_nested_past_the_parser", "header_nested_past_the_parser", "alg_with_nul"]
)
async def test_tokens_the_parser_chokes_on_are_the_generic_401(
    case: str, live_app: RunningApp, alice_claims: Claims
) -> None:
    now = int(time.time())
    fresh = _shift(alice_claims, iat=now, exp=now + 300)
    if case == "payload_nested_past_the_parser":
        token = sign_raw_payload_as_idp(_deeply_nested_payload(fresh))
    elif case == "header_nested_past_the_parser":
        token = with_raw_header(b'{"alg": "RS256", "x": ' + b"[" * 2400 + b"]" * 2400 + b"}", fresh)
    else:
        token = with_raw_header(b'{"alg": "RS256\\u0000", "kid": "k", "typ": "at+jwt"}', fresh)
    await _assert_refused_and_audited(live_app, token)


async def _assert_refused_and_audited(app: RunningApp, token: str) -> None:
    response = await app.client.post(
        "/v1/sessions", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401, response.text
    assert response.json()["detail"] == "authentication required"
    async with unit_of_work(app.state.engine) as tx:
        rejected = (
            await tx.exec(
                select(AuditRecord).where(col(AuditRecord.event_type) == "auth.bearer_rejected")
            )
        ).all()
    assert len(rejected) == 1
    record = rejected[0]
    assert record.reason
    # The reason names the check, never the value that failed it.
    assert record.reason.isprintable()
    for marker in ("acme", "alice", "1e+20", "100000000000000000000", "member", "g64", "RS256"):
        assert marker not in record.reason, record.reason
