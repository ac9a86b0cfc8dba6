"""HS256 signing and verification with one configured secret, its key checks run once.

PyJWT re-checks an HMAC secret on every call (is it a PEM, SSH or DER key, or a JWK in
disguise?): on the webhook path that costs more than the HMAC itself. ``Hs256Key`` runs
PyJWT's own ``prepare_key`` on the secret once, at start-up, and hands the checked bytes
back on later calls; any other key object still goes through every check. Everything
else stays PyJWT's: the header parsing, the algorithm allow-list (``HS256`` only, so
``none`` and RS/HS confusion are refused) and the constant-time signature comparison.

Signing (the mint path) is the compact serialisation of RFC 7515 written out: the fixed
``{"alg":"HS256","typ":"JWT"}`` header encoded once, the claims as compact JSON, and
HMAC-SHA256 over ``header.payload`` with the checked key; PyJWT's ``encode`` re-checks
the key and re-encodes the header for every token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping

from jwt.algorithms import HMACAlgorithm
from jwt.api_jws import PyJWS

ALGORITHM = "HS256"
_HEADER = {"alg": ALGORITHM, "typ": "JWT"}


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


_ENCODED_HEADER = _b64url(json.dumps(_HEADER, separators=(",", ":")).encode())


class _CheckedHmac(HMACAlgorithm):
    """HMAC-SHA256 that skips re-checking the one key object it already checked."""

    def __init__(self, checked: bytes) -> None:
        super().__init__(HMACAlgorithm.SHA256)
        self._checked = checked

    def prepare_key(self, key: str | bytes) -> bytes:
        if key is self._checked:  # identity, not equality: only the object checked once
            return self._checked
        return super().prepare_key(key)


class Hs256Key:
    """Sign and verify compact JWS tokens with one HS256 secret."""

    __slots__ = ("_jws", "_key")

    def __init__(self, secret: str) -> None:
        self._key = HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(secret)
        self._jws = PyJWS(algorithms=[ALGORITHM])
        self._jws.unregister_algorithm(ALGORITHM)
        self._jws.register_algorithm(ALGORITHM, _CheckedHmac(self._key))

    def __repr__(self) -> str:
        return "Hs256Key(<secret>)"

    def sign(self, claims: Mapping[str, object]) -> str:
        """A compact JWS (``typ`` JWT) of the claims, signed with this key."""
        payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = _ENCODED_HEADER + b"." + payload
        signature = _b64url(hmac.new(self._key, signing_input, hashlib.sha256).digest())
        return (signing_input + b"." + signature).decode("ascii")

    def verify(self, token: str) -> bytes:
        """The payload bytes of a token signed with this key (claims are the caller's to
        check). Raises ``jwt.PyJWTError`` for anything else."""
        decoded = self._jws.decode_complete(token, key=self._key, algorithms=[ALGORITHM])
        payload: bytes = decoded["payload"]
        return payload
