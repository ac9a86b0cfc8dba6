"""Drive the harness's real OIDC provider (node-oidc-provider) over plain HTTP.

No browser: the login page under ``/interaction/:uid`` is a plain form, consent is
auto-approved for the two first-party clients, and every redirect is followed by hand so
the flow stops at the first redirect that leaves the IdP (the client's ``redirect_uri``)
without calling it. Synchronous httpx: from async tests use ``asyncio.to_thread``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

from tests.support.harness import HarnessEnv

API_RESOURCE: Final = "urn:control-plane:api"
API_SCOPE: Final = "cp:api"
DEFAULT_SCOPE: Final = "openid email profile groups tenant"
NATIVE_REDIRECT_URI: Final = "http://127.0.0.1/callback"
WEB_REDIRECT_URI: Final = "http://127.0.0.1:8787/auth/callback"
# Dev-only fixture accepted by the IdP for every user: adds amr "otp", acr ...:mfa.
TEST_OTP: Final = "246810"
ACR_PASSWORD: Final = "urn:control-plane:acr:pwd"
ACR_MFA: Final = "urn:control-plane:acr:mfa"
_MAX_HOPS: Final = 12
_TIMEOUT: Final = httpx.Timeout(10.0)

ClientName = Literal["cp-native", "cp-web"]


@dataclass(frozen=True)
class TestUser:
    """A static account of the harness IdP (passwords are dev-only fixtures)."""

    __test__ = False  # not a pytest test class

    username: str
    password: str = field(repr=False)
    sub: str
    email: str
    email_verified: bool
    groups: tuple[str, ...]
    tenant: str


def _user(username: str, group: str, tenant: str, *, email_verified: bool = True) -> TestUser:
    domain = {"acme": "acme.test", "globex": "globex.test"}[tenant]
    return TestUser(
        username=username,
        password=f"{username}-password",
        sub=f"user-{username}",
        email=f"{username}@{domain}",
        email_verified=email_verified,
        groups=(group,),
        tenant=tenant,
    )


USERS: Final[Mapping[str, TestUser]] = {
    u.username: u
    for u in (
        _user("alice", "member", "acme"),
        _user("bob", "member", "globex"),
        _user("carol", "member", "acme"),
        _user("audrey", "security_auditor", "acme"),
        _user("adam", "admin", "acme"),
        _user("eve", "member", "acme", email_verified=False),
    )
}


class IdpFlowError(RuntimeError):
    """The IdP answered something this driver did not expect."""


class LoginRejected(IdpFlowError):
    """The IdP refused the credentials and showed the login form again."""


class AuthorizationDenied(IdpFlowError):
    """The authorization response carried an OAuth ``error`` instead of a code."""

    def __init__(self, error: str, description: str | None) -> None:
        super().__init__(f"{error}: {description or ''}")
        self.error = error
        self.description = description


@dataclass(frozen=True)
class TokenSet:
    """A token endpoint response (tokens are kept out of ``repr``)."""

    access_token: str = field(repr=False)
    id_token: str | None = field(repr=False)
    refresh_token: str | None = field(repr=False)
    token_type: str
    expires_in: int
    scope: str | None


@dataclass(frozen=True)
class PkcePair:
    """An RFC 7636 S256 code verifier and its challenge."""

    verifier: str = field(repr=False)
    challenge: str

    @classmethod
    def generate(cls) -> PkcePair:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))


def discover(client: httpx.Client, issuer: str) -> dict[str, object]:
    """The provider's OpenID configuration document."""
    response = client.get(f"{issuer}/.well-known/openid-configuration")
    response.raise_for_status()
    document: dict[str, object] = response.json()
    if document.get("issuer") != issuer:
        raise IdpFlowError("discovery document names another issuer")
    return document


def _endpoint(document: Mapping[str, object], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str):
        raise IdpFlowError(f"discovery document has no {name}")
    return value


def build_authorization_url(
    env: HarnessEnv,
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    nonce: str,
    code_challenge: str,
    scope: str = DEFAULT_SCOPE,
    resource: str | None = API_RESOURCE,
    extra: Mapping[str, str] | None = None,
) -> str:
    """An authorization-code request URL with PKCE S256 (and ``resource`` when given)."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "nonce": nonce,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    if resource is not None:
        params["resource"] = resource
        if API_SCOPE not in scope.split():
            params["scope"] = f"{scope} {API_SCOPE}"
    params.update(extra or {})
    return f"{env.idp_issuer}/auth?{urlencode(params)}"


def _form_action(page: str, form_id: str) -> str | None:
    match = re.search(rf'<form[^>]*action="([^"]+)"[^>]*id="{re.escape(form_id)}"', page)
    return html.unescape(match.group(1)) if match else None


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def complete_login(
    env: HarnessEnv,
    authorization_url: str,
    *,
    username: str,
    password: str,
    otp: str | None = None,
    deny: bool = False,
    client: httpx.Client | None = None,
) -> str:
    """Follow an authorization request through login and consent to the client's redirect.

    Returns the first redirect target outside the IdP (``redirect_uri?code=...&state=...``,
    or ``?error=access_denied`` when ``deny``) without requesting it. Pass ``client`` to
    keep the IdP's session cookies between flows (single sign-on on the second flow).
    Raises ``LoginRejected`` when the IdP shows the login form again (wrong password).
    """
    own = client is None
    http = client or httpx.Client(timeout=_TIMEOUT)
    try:
        return _drive(env, http, authorization_url, username, password, otp, deny)
    finally:
        if own:
            http.close()


def _drive(
    env: HarnessEnv,
    http: httpx.Client,
    url: str,
    username: str,
    password: str,
    otp: str | None,
    deny: bool,
) -> str:
    idp = _origin(env.idp_issuer)
    response = http.get(url, follow_redirects=False)
    submitted = False
    for _ in range(_MAX_HOPS):
        if response.is_redirect:
            target = urljoin(str(response.url), response.headers["location"])
            if _origin(target) != idp:
                return target
            response = http.get(target, follow_redirects=False)
            continue
        page = response.text
        login_action = _form_action(page, "login-form")
        if response.status_code != 200 or login_action is None:
            raise IdpFlowError(f"unexpected IdP response {response.status_code} at {response.url}")
        if submitted:
            raise LoginRejected(f"the IdP rejected the login of {username!r}")
        submitted = True
        if deny:
            abort_action = _form_action(page, "abort-form")
            if abort_action is None:
                raise IdpFlowError("login page has no abort form")
            response = http.post(urljoin(str(response.url), abort_action), follow_redirects=False)
            continue
        form = {"login": username, "password": password, "otp": otp or ""}
        response = http.post(
            urljoin(str(response.url), login_action), data=form, follow_redirects=False
        )
    raise IdpFlowError(f"no redirect to the client after {_MAX_HOPS} hops")


def parse_authorization_response(redirect: str, *, state: str, issuer: str) -> str:
    """The code from an authorization response, after checking ``state`` and ``iss``."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(redirect).query).items()}
    if query.get("state") != state:
        raise IdpFlowError("authorization response state mismatch")
    if query.get("iss") != issuer:  # RFC 9207 mix-up defence
        raise IdpFlowError("authorization response iss mismatch")
    if "error" in query:
        raise AuthorizationDenied(query["error"], query.get("error_description"))
    code = query.get("code")
    if not code:
        raise IdpFlowError("authorization response has neither code nor error")
    return code


def _token_request(
    http: httpx.Client,
    env: HarnessEnv,
    form: Mapping[str, str],
    *,
    client: ClientName,
) -> TokenSet:
    endpoint = _endpoint(discover(http, env.idp_issuer), "token_endpoint")
    if client == "cp-web":
        basic = httpx.BasicAuth(env.idp_web_client_id, env.idp_web_client_secret)
        response = http.post(endpoint, data=form, auth=basic)
    else:  # public client: identifies itself, proves possession through PKCE only
        response = http.post(endpoint, data={**form, "client_id": env.idp_native_client_id})
    try:
        body = response.json()
    except ValueError as exc:
        raise IdpFlowError(f"token endpoint {response.status_code}: not JSON") from exc
    if response.status_code != 200 or "access_token" not in body:
        # Only the OAuth error fields: a token response is never echoed into test output.
        raise IdpFlowError(
            f"token endpoint {response.status_code}: {body.get('error')} "
            f"{body.get('error_description', '')}"
        )
    return TokenSet(
        access_token=body["access_token"],
        id_token=body.get("id_token"),
        refresh_token=body.get("refresh_token"),
        token_type=body["token_type"],
        expires_in=int(body["expires_in"]),
        scope=body.get("scope"),
    )


def get_access_token(
    env: HarnessEnv,
    username: str,
    password: str,
    *,
    resource: str | None = API_RESOURCE,
    client: ClientName = "cp-native",
    scope: str = DEFAULT_SCOPE,
    otp: str | None = None,
) -> TokenSet:
    """Authorization code + PKCE S256 with a real login; returns the issued tokens.

    With ``resource`` (the default, ``urn:control-plane:api``) the access token is an
    RFC 9068 JWT (``typ: at+jwt``) for that audience carrying ``groups``, ``tenant`` and
    ``email_verified``; with ``resource=None`` it is opaque (userinfo only).
    """
    if client == "cp-native":
        client_id, redirect_uri = env.idp_native_client_id, NATIVE_REDIRECT_URI
    else:
        client_id, redirect_uri = env.idp_web_client_id, WEB_REDIRECT_URI
    pkce = PkcePair.generate()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    url = build_authorization_url(
        env,
        client_id=client_id,
        redirect_uri=redirect_uri,
        state=state,
        nonce=nonce,
        code_challenge=pkce.challenge,
        scope=scope,
        resource=resource,
    )
    with httpx.Client(timeout=_TIMEOUT) as http:
        redirect = complete_login(
            env, url, username=username, password=password, otp=otp, client=http
        )
        code = parse_authorization_response(redirect, state=state, issuer=env.idp_issuer)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": pkce.verifier,
        }
        if resource is not None:
            form["resource"] = resource
        return _token_request(http, env, form, client=client)


def get_client_credentials_token(
    env: HarnessEnv, *, resource: str = API_RESOURCE, scope: str = API_SCOPE
) -> TokenSet:
    """A client_credentials JWT for ``resource`` (cp-web): no user, no user claims."""
    with httpx.Client(timeout=_TIMEOUT) as http:
        form = {"grant_type": "client_credentials", "resource": resource, "scope": scope}
        return _token_request(http, env, form, client="cp-web")
