"""Access tokens already verified, so a client's next request skips the signature check.

A native app or SPA sends the same access token on every call until it expires; verifying
it again (base64, JSON, an RSA or ECDSA signature) is ~9 % of a mint's CPU. A hit here
still has to earn its answer:

- entries are keyed by the token's SHA-256: the token itself is never kept;
- a hit is only used while the signing key it was verified with is still the issuer's
  *current, fresh* key for that ``kid`` (a JWKS refresh that drops or replaces the key,
  or a JWKS cache past its TTL, sends the token through full verification again);
- ``exp``/``nbf``/``iat`` are re-checked against the clock on every hit;
- only successes are cached (a rejected token is rejected afresh each time, with its
  reason audited), and the cache is bounded (least recently used entries go first).

Revocation at the IdP is no different from before: access tokens are self-contained JWTs
and are not introspected; their short lifetime bounds them.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import jwt

from control_plane.crypto.digest import secret_digest
from control_plane.identity.types import VerifiedClaims


@dataclass(frozen=True)
class CachedVerification:
    verified: VerifiedClaims
    kid: str
    key: jwt.PyJWK


class VerifiedTokenCache:
    """A bounded LRU of verified access tokens, keyed by their SHA-256."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._entries: OrderedDict[str, CachedVerification] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> CachedVerification | None:
        key = secret_digest(token)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, token: str, entry: CachedVerification) -> None:
        if self._max <= 0:
            return
        key = secret_digest(token)
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def discard(self, token: str) -> None:
        self._entries.pop(secret_digest(token), None)
