"""The OIDC provider as seen from here: discovery metadata and its JWKS, cached.

Owned by the lifespan. Keys are parsed once and cached with a TTL; an unknown ``kid``
triggers at most one refresh per ``jwks_min_refresh_seconds`` (so a flood of forged
``kid`` values cannot turn into a flood of JWKS fetches), under a lock.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from control_plane.config import OidcSettings
from control_plane.identity.errors import IdentityProviderUnavailable
from control_plane.identity.token_cache import VerifiedTokenCache

MAX_KEYS = 64


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None


class OidcClient:
    """Discovery + JWKS cache for one issuer, and the access tokens verified with it."""

    def __init__(self, settings: OidcSettings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._http = http
        self._lock = asyncio.Lock()
        self._keys_lock = asyncio.Lock()
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self._keys: dict[str, jwt.PyJWK] = {}
        self._keys_at = 0.0
        self._last_refresh_attempt = 0.0
        self.verified_tokens = VerifiedTokenCache(settings.verified_token_cache_size)

    @property
    def settings(self) -> OidcSettings:
        return self._settings

    async def _get_json(self, url: str) -> dict[str, Any]:
        # Any: JSON documents from the provider.
        try:
            response = await self._http.get(
                url, timeout=self._settings.http_timeout_seconds, follow_redirects=False
            )
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise IdentityProviderUnavailable() from exc
        if not isinstance(body, dict):
            raise IdentityProviderUnavailable()
        return body

    async def metadata(self) -> ProviderMetadata:
        """Discovery metadata; the issuer must match the configured one exactly (ASVS 10.5.3)."""
        fresh = time.monotonic() - self._metadata_at < self._settings.jwks_ttl_seconds
        if self._metadata is not None and fresh:
            return self._metadata
        async with self._lock:
            if self._metadata is not None and (
                time.monotonic() - self._metadata_at < self._settings.jwks_ttl_seconds
            ):
                return self._metadata
            issuer = self._settings.issuer.rstrip("/")
            doc = await self._get_json(f"{issuer}/.well-known/openid-configuration")
            if doc.get("issuer") != self._settings.issuer:
                raise IdentityProviderUnavailable("identity provider issuer mismatch")
            try:
                self._metadata = ProviderMetadata(
                    issuer=str(doc["issuer"]),
                    authorization_endpoint=str(doc["authorization_endpoint"]),
                    token_endpoint=str(doc["token_endpoint"]),
                    jwks_uri=str(doc["jwks_uri"]),
                    end_session_endpoint=(
                        str(doc["end_session_endpoint"])
                        if doc.get("end_session_endpoint")
                        else None
                    ),
                )
            except KeyError as exc:
                raise IdentityProviderUnavailable() from exc
            self._metadata_at = time.monotonic()
            return self._metadata

    async def _refresh_keys(self) -> None:
        meta = await self.metadata()
        doc = await self._get_json(meta.jwks_uri)
        keys: dict[str, jwt.PyJWK] = {}
        for raw in doc.get("keys", [])[:MAX_KEYS]:
            if not isinstance(raw, dict) or "kid" not in raw or raw.get("use", "sig") != "sig":
                continue
            try:
                keys[str(raw["kid"])] = jwt.PyJWK(raw)
            except jwt.PyJWTError:
                continue
        self._keys = keys
        self._keys_at = time.monotonic()

    def fresh_key(self, kid: str) -> jwt.PyJWK | None:
        """The key with this id if the cached JWKS publishes it and is within its TTL;
        never fetches."""
        if time.monotonic() - self._keys_at >= self._settings.jwks_ttl_seconds:
            return None
        return self._keys.get(kid)

    async def signing_key(self, kid: str) -> jwt.PyJWK | None:
        """The provider's key with this id, or None if it does not publish one."""
        key = self._keys.get(kid)
        if key is not None and time.monotonic() - self._keys_at < self._settings.jwks_ttl_seconds:
            return key
        async with self._keys_lock:
            now = time.monotonic()
            stale = now - self._keys_at >= self._settings.jwks_ttl_seconds
            may_refresh = (
                now - self._last_refresh_attempt >= self._settings.jwks_min_refresh_seconds
            )
            if (kid not in self._keys or stale) and (may_refresh or not self._keys):
                self._last_refresh_attempt = now
                await self._refresh_keys()
            return self._keys.get(kid)
