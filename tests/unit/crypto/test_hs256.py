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
