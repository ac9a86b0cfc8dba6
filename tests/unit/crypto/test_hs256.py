"""HS256 verification with the key checked once: PyJWT-compatible, nothing but HS256."""

from __future__ import annotations

import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from control_plane.crypto.hs256 import Hs256Key

SECRET = "s" * 64


def test_a_pyjwt_token_with_this_secret_verifies_to_its_payload() -> None:
    theirs = jwt.encode({"sub": "b"}, SECRET, algorithm="HS256")
    assert json.loads(Hs256Key(SECRET).verify(theirs)) == {"sub": "b"}


@pytest.mark.parametrize(
    "token",
    [
        jwt.encode({"sub": "a"}, "t" * 64, algorithm="HS256"),  # another secret
        jwt.encode({"sub": "a"}, SECRET, algorithm="HS512"),  # another algorithm
        jwt.encode({"sub": "a"}, "", algorithm="none"),
        "a.b",
        "not-a-token",
    ],
)
def test_anything_but_hs256_with_this_secret_is_refused(token: str) -> None:
    with pytest.raises(jwt.PyJWTError):
        Hs256Key(SECRET).verify(token)


def test_an_asymmetric_key_is_refused_as_a_secret_up_front() -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(jwt.InvalidKeyError):
        Hs256Key(pem)


def test_a_signed_token_is_what_pyjwt_signs_and_verifies() -> None:
    claims = {"sub": "sub_1", "video": {"room": "cp-ü", "canPublishSources": ["microphone"]}}
    ours = Hs256Key(SECRET).sign(claims)
    assert ours == jwt.encode(claims, SECRET, algorithm="HS256", headers={"typ": "JWT"})
    assert jwt.decode(ours, SECRET, algorithms=["HS256"]) == claims
    assert jwt.get_unverified_header(ours) == {"alg": "HS256", "typ": "JWT"}
    assert "=" not in ours  # base64url without padding (RFC 7515 §2)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(ours, "t" * 64, algorithms=["HS256"])


def test_the_key_never_shows_its_secret() -> None:
    assert SECRET not in repr(Hs256Key(SECRET))
