"""Internal-API credentials for agent workers: short-lived HS256 JWTs of their own type.

They carry ``typ: cp-worker+jwt`` and audience ``control-plane:internal``, are signed with
a key used for nothing else, and are checked against a revocation table, so neither a
LiveKit token, an IdP token nor a browser session can stand in for one (RFC 8725 §3.11,
§3.12: mutually exclusive validation rules per JWT kind).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt

from control_plane.agents.types import CredentialKind, WorkerClaims
from control_plane.errors import Unauthenticated

TYP = "cp-worker+jwt"
AUDIENCE = "control-plane:internal"
ISSUER = "control-plane"
MAX_CREDENTIAL_BYTES = 4096
LEEWAY_SECONDS = 5


class InvalidWorkerCredential(Unauthenticated):
    code = "unauthenticated"


def issue_credential(
    key: bytes,
    *,
    kind: CredentialKind,
    worker_id: str,
    session_id: str | None,
    ttl: timedelta,
    now: datetime,
) -> tuple[str, WorkerClaims]:
    """Sign a credential; the caller records its jti so it can be revoked."""
    jti = uuid.uuid4().hex
    expires = now + ttl
    payload: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": worker_id,
        "jti": jti,
        "kind": kind.value,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    if session_id is not None:
        payload["sid"] = session_id
    token = jwt.encode(payload, key, algorithm="HS256", headers={"typ": TYP})
    claims = WorkerClaims(
        jti=jti,
        kind=kind,
        worker_id=worker_id,
        session_id=session_id,
        issued_at=datetime.fromtimestamp(int(now.timestamp()), UTC),
        expires_at=datetime.fromtimestamp(int(expires.timestamp()), UTC),
    )
    return token, claims


def verify_credential(key: bytes, token: str, *, now: datetime) -> WorkerClaims:
    """Check type, algorithm, signature, issuer, audience and lifetime; raise one 401."""
    if len(token) > MAX_CREDENTIAL_BYTES:
        raise InvalidWorkerCredential("credential rejected: oversized")
    try:
        header = jwt.get_unverified_header(token)
        if header.get("typ") != TYP or header.get("alg") != "HS256":
            raise InvalidWorkerCredential("credential rejected: wrong type")
        payload = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={
                "require": ["exp", "iat", "nbf", "jti", "sub", "aud", "iss"],
                # Lifetime is checked below against the injected clock.
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
        exp = int(payload["exp"])
        if exp < now.timestamp() - LEEWAY_SECONDS:
            raise InvalidWorkerCredential("credential rejected: expired")
        if int(payload["nbf"]) > now.timestamp() + LEEWAY_SECONDS:
            raise InvalidWorkerCredential("credential rejected: not yet valid")
        kind = CredentialKind(str(payload.get("kind")))
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise InvalidWorkerCredential(f"credential rejected: {type(exc).__name__}") from exc
    session_id = payload.get("sid")
    return WorkerClaims(
        jti=str(payload["jti"]),
        kind=kind,
        worker_id=str(payload["sub"]),
        session_id=str(session_id) if session_id is not None else None,
        issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
        expires_at=datetime.fromtimestamp(exp, UTC),
    )
