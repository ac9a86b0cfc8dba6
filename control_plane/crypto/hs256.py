"""HS256 verification with one configured secret whose key checks run once, not on every token.

PyJWT re-checks an HMAC secret on every call (is it a PEM, SSH or DER key, or a JWK in
disguise?): on the webhook path that costs more than the HMAC itself. ``Hs256Key`` runs
PyJWT's own ``prepare_key`` on the secret once, at start-up, and hands the checked bytes
back on later calls; any other key object still goes through every check. Everything
else stays PyJWT's: the header parsing, the algorithm allow-list (``HS256`` only, so
``none`` and RS/HS confusion are refused) and the constant-time signature comparison.
"""

from __future__ import annotations

from jwt.algorithms import HMACAlgorithm
from jwt.api_jws import PyJWS

ALGORITHM = "HS256"


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
    """Verify compact JWS tokens with one HS256 secret."""

    __slots__ = ("_jws", "_key")

    def __init__(self, secret: str) -> None:
        self._key = HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(secret)
        self._jws = PyJWS(algorithms=[ALGORITHM])
        self._jws.unregister_algorithm(ALGORITHM)
        self._jws.register_algorithm(ALGORITHM, _CheckedHmac(self._key))

    def verify(self, token: str) -> bytes:
        """The payload bytes of a token signed with this key (claims are the caller's to
        check). Raises ``jwt.PyJWTError`` for anything else."""
        decoded = self._jws.decode_complete(token, key=self._key, algorithms=[ALGORITHM])
        payload: bytes = decoded["payload"]
        return payload
