"""A repeat bearer skips the signature check, but never its lifetime, its key or a bound.

The IdP is served through httpx's MockTransport (the OidcClient's injected HTTP seam)
from a key pair made here, so each test controls exactly what the issuer publishes.
The real IdP path is covered by tests/security/identity/test_bearer_attacks.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa

from control_plane.config import OidcSettings
from control_plane.identity.client import OidcClient
from control_plane.identity.errors import AuthenticationFailed
from control_plane.identity.token_cache import CachedVerification, VerifiedTokenCache
from control_plane.identity.types import VerifiedClaims
from control_plane.identity.verify import verify_access_token

pytestmark = pytest.mark.asyncio

ISSUER = "https://idp.test"
AUDIENCE = "urn:control-plane:api"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@dataclass
class Issuer:
    """What the fake IdP publishes: a JWKS that a test can rotate."""

    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    jwks_fetches: int = 0

    def add_key(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        # Any: a JWKS is free-form JSON.
        published = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            published.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": published}

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/auth",
                    "token_endpoint": f"{ISSUER}/token",
                    "jwks_uri": f"{ISSUER}/jwks",
                },
            )
        self.jwks_fetches += 1
        return httpx.Response(200, json=self.jwks())

    def token(self, kid: str, **claims: Any) -> str:
        body = {
            "iss": ISSUER,
            "sub": "alice",
            "aud": AUDIENCE,
            "iat": int(NOW.timestamp()),
            "exp": int((NOW + timedelta(minutes=5)).timestamp()),
            **claims,
        }
        return jwt.encode(
            body, self.keys[kid], algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"}
        )


@pytest.fixture
def issuer() -> Issuer:
    published = Issuer()
    published.add_key("k1")
    return published


@pytest_asyncio.fixture
async def client(issuer: Issuer) -> AsyncIterator[OidcClient]:
    settings = OidcSettings(
        issuer=ISSUER,
        client_id="web",
        audience=AUDIENCE,
        jwks_min_refresh_seconds=1,
        verified_token_cache_size=3,
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(issuer.handle)) as http:
        yield OidcClient(settings, http)


async def test_a_repeat_bearer_is_answered_from_the_cache(
    issuer: Issuer, client: OidcClient
) -> None:
    token = issuer.token("k1")
    first = await verify_access_token(client, token, now=NOW)
    again = await verify_access_token(client, token, now=NOW + timedelta(seconds=30))
    assert again is first  # the very same verification, not a second one
    assert first.subject == "alice"
    assert len(client.verified_tokens) == 1


async def test_the_cache_keeps_a_digest_never_the_token(issuer: Issuer, client: OidcClient) -> None:
    token = issuer.token("k1")
    await verify_access_token(client, token, now=NOW)
    stored = repr(vars(client.verified_tokens))
    assert token not in stored
    assert token.split(".")[2] not in stored  # not even the signature


async def test_a_cached_token_still_expires(issuer: Issuer, client: OidcClient) -> None:
    token = issuer.token("k1")
    await verify_access_token(client, token, now=NOW)
    leeway = client.settings.leeway_seconds
    after_expiry = NOW + timedelta(minutes=5, seconds=leeway + 1)
    with pytest.raises(AuthenticationFailed) as failed:
        await verify_access_token(client, token, now=after_expiry)
    assert failed.value.reason == "token expired"
    assert len(client.verified_tokens) == 0  # dropped, not kept for the next try


async def test_a_cached_token_is_not_valid_before_its_nbf(
    issuer: Issuer, client: OidcClient
) -> None:
    # Verified once the clock reached nbf; a clock that steps back must not reuse it.
    nbf = NOW + timedelta(minutes=2)
    token = issuer.token("k1", nbf=int(nbf.timestamp()))
    await verify_access_token(client, token, now=nbf)
    with pytest.raises(AuthenticationFailed) as failed:
        await verify_access_token(client, token, now=NOW)
    assert failed.value.reason == "token not yet valid"


@pytest.mark.parametrize(
    ("exp", "reason"),
    [
        (float("nan"), "claim exp missing or not a number"),  # NaN is never "past"
        (float("inf"), "claim exp missing or not a number"),
        (10**400, "claim exp missing or not a number"),  # overflowed float(): a 500
    ],
)
async def test_a_signed_token_with_a_non_finite_exp_is_refused(
    issuer: Issuer, client: OidcClient, exp: float, reason: str
) -> None:
    token = issuer.token("k1", exp=exp)
    with pytest.raises(AuthenticationFailed) as failed:
        await verify_access_token(client, token, now=NOW)
    assert failed.value.reason == reason
    assert len(client.verified_tokens) == 0


async def test_rejected_tokens_are_never_cached(issuer: Issuer, client: OidcClient) -> None:
    wrong_audience = issuer.token("k1", aud="someone-else")
    for _ in range(2):
        with pytest.raises(AuthenticationFailed) as failed:
            await verify_access_token(client, wrong_audience, now=NOW)
        assert failed.value.reason == "wrong audience"
    assert len(client.verified_tokens) == 0


async def test_a_key_the_issuer_stops_publishing_voids_its_cached_tokens(
    issuer: Issuer, client: OidcClient
) -> None:
    token = issuer.token("k1")
    await verify_access_token(client, token, now=NOW)
    # The IdP rotates k1 out (compromise, scheduled rotation); a token signed with the new
    # key makes the client refresh its JWKS.
    del issuer.keys["k1"]
    issuer.add_key("k2")
    await _wait_for_refresh_window()
    await verify_access_token(client, issuer.token("k2"), now=NOW)
    with pytest.raises(AuthenticationFailed) as failed:
        await verify_access_token(client, token, now=NOW)
    assert failed.value.reason == "token key id unknown"


async def test_a_refetched_key_set_sends_tokens_through_full_verification(
    issuer: Issuer, client: OidcClient
) -> None:
    token = issuer.token("k1")
    first = await verify_access_token(client, token, now=NOW)
    issuer.add_key("k2")
    await _wait_for_refresh_window()
    await verify_access_token(client, issuer.token("k2"), now=NOW)  # refetches the JWKS
    again = await verify_access_token(client, token, now=NOW)
    assert again is not first  # verified anew against the refetched k1
    assert again == first


async def test_the_cache_is_bounded_least_recently_used_first() -> None:
    cache = VerifiedTokenCache(2)
    entry = CachedVerification(
        verified=VerifiedClaims(issuer=ISSUER, subject="s", claims={}),
        kid="k1",
        key=jwt.PyJWK(json.loads(jwt.algorithms.HMACAlgorithm.to_jwk(b"k" * 32))),
    )
    cache.put("a", entry)
    cache.put("b", entry)
    assert cache.get("a") is entry  # "a" is now the most recently used
    cache.put("c", entry)
    assert cache.get("b") is None
    assert cache.get("a") is entry
    assert cache.get("c") is entry
    assert len(cache) == 2


async def test_size_zero_turns_the_cache_off(issuer: Issuer) -> None:
    settings = OidcSettings(
        issuer=ISSUER, client_id="web", audience=AUDIENCE, verified_token_cache_size=0
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(issuer.handle)) as http:
        client = OidcClient(settings, http)
        token = issuer.token("k1")
        first = await verify_access_token(client, token, now=NOW)
        again = await verify_access_token(client, token, now=NOW)
    assert again is not first
    assert len(client.verified_tokens) == 0


async def _wait_for_refresh_window() -> None:
    await asyncio.sleep(1.05)  # jwks_min_refresh_seconds = 1: an unknown kid may refetch
