"""Forge JWTs for negative tests: re-sign real IdP claims with the harness IdP's own key
(so only the claim under test is wrong), with an attacker key, or with no signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.harness import REPO_ROOT

IDP_JWKS = REPO_ROOT / "var" / "harness" / "idp" / "jwks.json"


def idp_private_jwk(kty: str = "RSA") -> dict[str, Any]:
    # Any: a JWK is free-form JSON.
    keys: list[dict[str, Any]] = json.loads(IDP_JWKS.read_text())["keys"]
    return next(k for k in keys if k["kty"] == kty)


def unverified_claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def sign_as_idp(claims: dict[str, Any], *, kty: str = "RSA", typ: str = "at+jwt") -> str:
    """Sign with the real IdP key (the token is authentic; its claims are what we chose)."""
    jwk = idp_private_jwk(kty)
    key = jwt.PyJWK(jwk)
    return jwt.encode(
        claims, key.key, algorithm=jwk["alg"], headers={"kid": jwk["kid"], "typ": typ}
    )


def sign_with_attacker_key(claims: dict[str, Any], *, kid: str) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any], *, kid: str) -> str:
    header = {"alg": "none", "typ": "at+jwt", "kid": kid}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


def hs256_with_public_key(claims: dict[str, Any]) -> str:
    """The classic key-confusion attack: HMAC keyed with the IdP's public RSA key."""
    jwk = idp_private_jwk("RSA")
    public = jwt.PyJWK(jwk).key.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "at+jwt", "kid": jwk["kid"]}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def sign_raw_payload_as_idp(payload: bytes, *, typ: str = "at+jwt") -> str:
    """Sign exact payload bytes with the real IdP key (JSON no encoder would produce)."""
    jwk = idp_private_jwk("RSA")
    key = jwt.PyJWK(jwk)
    return jwt.api_jws.PyJWS().encode(
        payload, key.key, algorithm=jwk["alg"], headers={"kid": jwk["kid"], "typ": typ}
    )


def with_raw_header(header: bytes, claims: dict[str, Any]) -> str:
    """An unsigned token with exact header bytes (refused before any signature check)."""
    return f"{_b64(header)}.{_b64(json.dumps(claims).encode())}.c2ln"
