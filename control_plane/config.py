"""Typed settings: one `Settings` of nested, frozen per-domain sections.

Environment variables use the prefix ``CONTROL_PLANE_`` and ``__`` between a section and
its field (``CONTROL_PLANE_TOKENS__MAX_TTL_SECONDS=300``). The defaults run the embedded
mode with no setup at all: SQLite under ``var/``, in-memory rate limits, local key files.
Outside development a validator refuses unsafe values with one line naming the setting.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from control_plane.errors import ConfigError
from control_plane.identity.return_to import is_safe_return_to
from control_plane.risk.storage import storage_url_problem
from control_plane.risk.types import AnomalyResponse, DetectorRule

HARD_MAX_TOKEN_TTL_SECONDS = 600
MIN_SECRET_BYTES = 32


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EventLoop(StrEnum):
    ASYNCIO = "asyncio"
    UVLOOP = "uvloop"


_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=1, le=65535)
    public_base_url: str = "http://127.0.0.1:8787"
    replicas: int = Field(default=1, ge=1)
    # Origins (scheme://host[:port]) whose browsers may call the API cross-origin; none by
    # default. Credentials (the session cookie) are not sent cross-origin unless
    # cors_allow_credentials: cross-origin clients use bearer tokens.
    cors_origins: tuple[str, ...] = ()
    cors_allow_credentials: bool = False
    trusted_proxies: tuple[str, ...] = ()
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # Longer than clients' idle-connection timeout (Go's default transport, which
    # LiveKit's webhook sender uses, keeps idle connections 90 s): a server that closes
    # first races the client's next request on that connection, and a POST lost that
    # way is not retried by the client.
    keep_alive_seconds: int = Field(default=120, ge=1, le=3600)
    # The stdlib loop, not uvloop: under load uvloop left 2-3 % of mint requests unread
    # for 1-2 s (closed loop, 50 connections: p99 1,140 ms and time-outs, against
    # 256 ms and none on asyncio at the same throughput; tests/benchmarks/bench_mint.py).
    event_loop: EventLoop = EventLoop.ASYNCIO
    # Enforced by the server itself (control_plane/serving.py), not left to a proxy: a
    # request head larger than this is a 431; a head not complete this long after the
    # connection's first byte, or a body not complete this long after its head, is a 408
    # (T-DOS-5). 16 KiB is what Node and most proxies allow; an 8 KiB cookie still fits.
    max_header_bytes: int = Field(default=16 * 1024, ge=4096, le=1024 * 1024)
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    body_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    var_dir: Path = Path("var")
    benchmark_routes: bool = False
    # GET /metrics: public, or behind ``Authorization: Bearer <metrics_token>``, or off
    # (neither). Unset: public in development, not in production (where true is refused).
    metrics_public: bool | None = None
    metrics_token: SecretStr = SecretStr("")

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(f"not an origin (scheme://host[:port]): {origin[:64]!r}")
        return value

    @model_validator(mode="after")
    def _no_credentials_for_everyone(self) -> ServerSettings:
        if self.cors_allow_credentials and "*" in self.cors_origins:
            raise ValueError("cors_allow_credentials cannot be combined with the * origin")
        return self


class DatabaseSettings(_Section):
    url: str = ""
    echo: bool = False
    pool_size: int = Field(default=10, ge=1)

    def resolved_url(self, var_dir: Path) -> str:
        """The configured URL, or the embedded SQLite file under ``var_dir``."""
        if self.url:
            return self.url
        return f"sqlite+aiosqlite:///{(var_dir / 'control-plane.db').as_posix()}"


KEY_NAMES = (
    "pseudonym_key",
    "session_secret",
    "kek",
    "audit_signing_key",
    "receipt_signing_key",
    "worker_credential_key",
)
"""Every long-lived key the API holds (the key ring; each a setting in KeySettings)."""


class KeySettings(_Section):
    """Local key files (embedded mode) or explicit secrets (production)."""

    dir: Path | None = None
    pseudonym_key: SecretStr | None = None
    session_secret: SecretStr | None = None
    kek: SecretStr | None = None
    # The KEK being rotated away from (see `control-plane keys rotate-kek`); unset otherwise.
    previous_kek: SecretStr | None = None
    audit_signing_key: SecretStr | None = None
    # Public keys (hex or base64, 32 raw bytes) of retired audit signing keys, oldest first:
    # the checkpoints they signed still verify (see `control-plane keys rotate-audit-key`).
    previous_audit_public_keys: list[str] = Field(default_factory=list, max_length=32)
    receipt_signing_key: SecretStr | None = None
    worker_credential_key: SecretStr | None = None


class LiveKitSettings(_Section):
    url: str = "http://127.0.0.1:7880"
    api_key: str = ""
    api_secret: SecretStr = SecretStr("")
    webhook_api_key: str = ""
    webhook_api_secret: SecretStr = SecretStr("")
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    empty_timeout_seconds: int = Field(default=120, ge=1)
    departure_timeout_seconds: int = Field(default=20, ge=0)
    max_participants: int = Field(default=4, ge=1, le=100)

    @property
    def ws_url(self) -> str:
        return self.url.replace("https://", "wss://").replace("http://", "ws://")

    @property
    def is_configured(self) -> bool:
        return bool(self.api_key and self.api_secret.get_secret_value())


class OidcSettings(_Section):
    issuer: str = ""
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    redirect_uri: str = "http://127.0.0.1:8787/auth/callback"
    post_logout_redirect_uri: str = "http://127.0.0.1:8787/"
    audience: str = "urn:control-plane:api"
    scopes: tuple[str, ...] = ("openid", "email", "profile", "groups", "tenant")
    groups_claim: str = "groups"
    tenant_claim: str = "tenant"
    allowed_algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
    leeway_seconds: int = Field(default=30, ge=0, le=120)
    jwks_ttl_seconds: int = Field(default=300, ge=10)
    jwks_min_refresh_seconds: int = Field(default=10, ge=1)
    http_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    max_token_bytes: int = Field(default=8192, ge=512)
    # Verified access tokens kept (by SHA-256) to skip re-verifying a repeat bearer; 0 = off.
    verified_token_cache_size: int = Field(default=4096, ge=0, le=1_000_000)

    @property
    def is_configured(self) -> bool:
        return bool(self.issuer and self.client_id)


class BrowserSessionSettings(_Section):
    cookie_name: str = "__Host-cp_session"
    # The pre-login cookie binding a login in flight to the browser that started it
    # (login CSRF, T-ID-7); lives as long as the login state.
    login_cookie_name: str = "__Host-cp_login"
    idle_timeout_seconds: int = Field(default=30 * 60, ge=60)
    absolute_timeout_seconds: int = Field(default=8 * 3600, ge=300)
    login_state_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    # Where a login lands without a return_to: a same-origin path that answers a logged-in
    # user (a relative path of printable ASCII; never "//host" or a backslash).
    post_login_path: str = "/auth/session"

    @field_validator("post_login_path")
    @classmethod
    def _same_origin_path(cls, value: str) -> str:
        if not is_safe_return_to(value):
            raise ValueError("post_login_path must be a same-origin relative path")
        return value


class TokenSettings(_Section):
    default_ttl_seconds: int = Field(default=120, ge=10)
    max_ttl_seconds: int = Field(default=600, ge=10)
    max_session_seconds: int = Field(default=3600, ge=60)


class PolicySettings(_Section):
    dir: Path = Path("policies")


class RiskSettings(_Section):
    # memory:// (embedded), redis:// or rediss://, or redis+sentinel://host:port/service.
    storage_url: str = "memory://"
    auth_limit: str = "30/minute"
    mint_limit_per_subject: str = "60/minute"
    mint_limit_per_address: str = "120/minute"
    webhook_limit: str = "6000/minute"
    # Each rejected credential is audited with its reason, up to this many per address:
    # a flood of garbage bearers must not flood (and serialise on) the audit chain.
    rejection_audit_limit: str = "120/minute"
    # Refusals of one rate limit for one key are audited up to this many (T-DOS-3): they
    # repeat the same fact, and each audit record takes the chain lock.
    refusal_audit_limit: str = "10/minute"
    high_risk_score: int = Field(default=80, ge=0, le=100)
    # Anomaly detection (risk/detectors.py). Counters live in `storage_url` next to the
    # rate limits, so every replica sees the same streams. Rule -> response; a rule left
    # out only alerts. step_up raises the subject's risk score over the policies'
    # high-risk threshold until an MFA login; lock locks the subject.
    detection_enabled: bool = True
    responses: dict[DetectorRule, AnomalyResponse] = Field(
        default_factory=lambda: {
            DetectorRule.MINT_RATE: AnomalyResponse.STEP_UP,
            DetectorRule.AUTH_FAILURES: AnomalyResponse.ALERT,
            DetectorRule.SESSION_FANOUT: AnomalyResponse.ALERT,
        }
    )
    mint_window_seconds: int = Field(default=300, ge=10)
    mint_baseline_windows: int = Field(default=12, ge=1, le=288)
    mint_ewma_alpha: float = Field(default=0.3, gt=0, le=1)
    mint_floor: float = Field(default=5.0, gt=0)  # baseline never below this per window
    mint_factor: float = Field(default=4.0, gt=1)  # alert above factor x baseline
    auth_failure_window_seconds: int = Field(default=600, ge=10)
    auth_failure_threshold: int = Field(default=20, ge=1)  # alert above this per window
    session_fanout_window_seconds: int = Field(default=3600, ge=60)
    session_fanout_threshold: int = Field(default=10, ge=1)  # alert above this per window
    alert_interval_seconds: float = Field(default=5.0, gt=0)
    alert_max_attempts: int = Field(default=10, ge=1, le=100)

    @field_validator("storage_url")
    @classmethod
    def _storage_url(cls, value: str) -> str:
        problem = storage_url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class AuditSettings(_Section):
    checkpoint_interval_seconds: int = Field(default=300, ge=1)
    checkpoint_every_records: int = Field(default=1000, ge=1)
    verify_limit: str = "6/minute"  # full-chain verifications per reader (GET /v1/audit/verify)
    # Every checkpoint is also appended here (audit/witness.py); default var/audit-witness.jsonl.
    # The default is on the service's own host and writable by its user: in production
    # point it at append-only or write-once storage the service cannot rewrite, outside
    # the database's reach (README "The audit chain's trust boundary", T-AUD-5).
    witness_file: Path | None = None


class WebhookSettings(_Section):
    freshness_seconds: int = Field(default=300, ge=5)
    max_body_bytes: int = Field(default=128 * 1024, ge=1024)
    reconcile_interval_seconds: float = Field(default=5.0, gt=0)
    alert_url: str = ""
    alert_secret: SecretStr = SecretStr("")
    # Join auditing and remediation (livekit/jobs.py).
    future_skew_seconds: int = Field(default=60, ge=0, le=600)
    process_interval_seconds: float = Field(default=1.0, gt=0)
    process_grace_seconds: float = Field(default=2.0, ge=0)
    lease_seconds: float = Field(default=30.0, gt=0)
    max_process_attempts: int = Field(default=8, ge=1)
    remediation_interval_seconds: float = Field(default=1.0, gt=0)
    remediation_max_backoff_seconds: float = Field(default=60.0, gt=0)
    remediation_give_up_seconds: int = Field(default=86400, ge=60)
    # >= 15 min: LiveKit's refreshed tokens stay valid ~10 min after a removal.
    rekick_seconds: int = Field(default=900, ge=900)
    deadline_interval_seconds: float = Field(default=1.0, gt=0)
    unknown_rooms: str = Field(default="remediate", pattern="^(remediate|audit)$")
    rejection_audit_limit: str = "120/minute"


class RetentionSettings(_Section):
    raw_transcript_seconds: int = Field(default=24 * 3600, ge=0)
    redacted_transcript_seconds: int = Field(default=30 * 86400, ge=0)
    session_metadata_seconds: int = Field(default=90 * 86400, ge=0)
    webhook_body_seconds: int = Field(default=7 * 86400, ge=0)
    audit_record_seconds: int = Field(default=365 * 86400, ge=0)
    metrics_seconds: int = Field(default=30 * 86400, ge=0)
    interval_seconds: float = Field(default=30.0, gt=0)
    store_raw_transcripts: bool = False


class PrivacySettings(_Section):
    """The redaction engine, raw-text opt-in, the privacy jobs and export bounds."""

    # 0: redact in one dedicated thread of the API process; n > 0: a pool of n processes.
    redaction_workers: int = Field(default=0, ge=0, le=32)
    # A session whose retention_class is this value asks for its raw text to be kept
    # (encrypted, retention.raw_transcript_seconds) even when store_raw_transcripts is off.
    keep_raw_retention_class: str = "keep_raw"
    finalize_interval_seconds: float = Field(default=15.0, gt=0)
    jobs_enabled: bool = True
    export_audit_limit: int = Field(default=5000, ge=1, le=100_000)


class AgentSettings(_Section):
    """Voice agent workers: how many this process supervises, and what each one gets.

    A worker gets the agents' own LiveKit key pair (never ``livekit.api_key``), a
    short-lived process credential (``credential_ttl_seconds``, rotated at two thirds of
    its life) and the variables named in ``passthrough_env`` (e.g. a plugin's API key for
    the chained pipeline); nothing else from this process's environment.
    """

    workers: int = Field(default=0, ge=0, le=32)
    agent_name: str = Field(default="big-mama", pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    pipeline: str = Field(default="offline", pattern="^(offline|chained|realtime)$")
    livekit_api_key: str = ""
    livekit_api_secret: SecretStr = SecretStr("")
    credential_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    # Where workers reach the internal API; default http://<server.host>:<server.port>.
    internal_url: str = ""
    passthrough_env: tuple[str, ...] = ()
    max_jobs_per_worker: int = Field(default=4, ge=1, le=64)
    # CPU load above which a worker declines jobs (livekit-agents' gate; inf disables it).
    load_threshold: float = Field(default=0.75, gt=0)
    heartbeat_interval_seconds: float = Field(default=5.0, ge=0.1, le=300)
    heartbeat_timeout_seconds: float = Field(default=30.0, ge=1)
    startup_grace_seconds: float = Field(default=120.0, ge=1)
    health_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    restart_backoff_seconds: float = Field(default=1.0, gt=0)
    restart_backoff_max_seconds: float = Field(default=60.0, gt=0)
    # A process up this long has recovered: its next failure restarts with the base delay.
    stable_after_seconds: float = Field(default=60.0, gt=0)
    drain_timeout_seconds: float = Field(default=30.0, ge=1, le=3600)
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")


class Settings(BaseSettings):
    """All settings; defaults are the embedded development mode."""

    model_config = SettingsConfigDict(
        env_prefix="CONTROL_PLANE_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    env: Environment = Environment.DEVELOPMENT
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    keys: KeySettings = KeySettings()
    livekit: LiveKitSettings = LiveKitSettings()
    oidc: OidcSettings = OidcSettings()
    browser: BrowserSessionSettings = BrowserSessionSettings()
    tokens: TokenSettings = TokenSettings()
    policies: PolicySettings = PolicySettings()
    risk: RiskSettings = RiskSettings()
    audit: AuditSettings = AuditSettings()
    webhooks: WebhookSettings = WebhookSettings()
    retention: RetentionSettings = RetentionSettings()
    privacy: PrivacySettings = PrivacySettings()
    agents: AgentSettings = AgentSettings()

    @property
    def is_development(self) -> bool:
        return self.env is Environment.DEVELOPMENT

    @property
    def metrics_public(self) -> bool:
        """Whether GET /metrics answers without credentials (see ServerSettings)."""
        chosen = self.server.metrics_public
        return self.is_development if chosen is None else chosen

    @property
    def database_url(self) -> str:
        return self.database.resolved_url(self.server.var_dir)

    @property
    def key_dir(self) -> Path:
        return self.keys.dir or (self.server.var_dir / "keys")

    @property
    def witness_file(self) -> Path:
        return self.audit.witness_file or (self.server.var_dir / "audit-witness.jsonl")


Problem = Annotated[str, "one line naming the setting"]


def _agent_key_problems(settings: Settings) -> list[Problem]:
    """The agents' LiveKit key pair: their own, never the control plane's; strong outside
    development."""
    agents = settings.agents
    if agents.livekit_api_key in {"", settings.livekit.api_key, settings.livekit.webhook_api_key}:
        return [
            "agents.livekit_api_key: workers need their own LiveKit key pair, never the "
            "control plane's or the webhook pair (livekit.md §5.10, README LiveKit keys)"
        ]
    if settings.is_development:
        return []
    return _weak("agents.livekit_api_secret", agents.livekit_api_secret)


def _weak(name: str, secret: SecretStr) -> list[Problem]:
    if len(secret.get_secret_value().encode()) < MIN_SECRET_BYTES:
        return [f"{name}: shorter than {MIN_SECRET_BYTES} bytes"]
    return []


def _key_problems(settings: Settings, names: tuple[str, ...]) -> list[Problem]:
    """Production keys come from settings (development key files refused), strong."""
    problems: list[Problem] = []
    for name in names:
        value: SecretStr | None = getattr(settings.keys, name)
        if value is None:
            problems.append(f"keys.{name}: required in production (development key files refused)")
        else:
            problems += _weak(f"keys.{name}", value)
    return problems


def unsafe_settings(settings: Settings) -> list[Problem]:
    """Every reason these settings are unsafe to run outside development (empty if none)."""
    problems: list[Problem] = []
    if settings.tokens.max_ttl_seconds > HARD_MAX_TOKEN_TTL_SECONDS:
        problems.append(
            f"tokens.max_ttl_seconds: {settings.tokens.max_ttl_seconds} exceeds the hard cap "
            f"of {HARD_MAX_TOKEN_TTL_SECONDS}"
        )
    if settings.tokens.default_ttl_seconds > settings.tokens.max_ttl_seconds:
        problems.append("tokens.default_ttl_seconds: larger than tokens.max_ttl_seconds")
    if settings.agents.workers:
        problems += _agent_key_problems(settings)
    if settings.is_development:
        return problems
    if settings.server.benchmark_routes:
        problems.append("server.benchmark_routes: the unauthenticated bare mint is for benchmarks")
    if settings.webhooks.alert_url and not settings.webhooks.alert_url.startswith("https://"):
        problems.append("webhooks.alert_url: must be an https:// URL in production")
    if settings.webhooks.alert_url:
        problems += _weak("webhooks.alert_secret", settings.webhooks.alert_secret)
    if not settings.oidc.issuer.startswith("https://"):
        problems.append("oidc.issuer: must be an https:// URL in production")
    if "*" in settings.oidc.audience or not settings.oidc.audience:
        problems.append("oidc.audience: must be a single explicit audience in production")
    if any(origin == "*" or "*" in origin for origin in settings.server.cors_origins):
        problems.append("server.cors_origins: wildcard origins are not allowed in production")
    if any(not origin.startswith("https://") for origin in settings.server.cors_origins):
        problems.append("server.cors_origins: only https:// origins in production")
    if settings.server.metrics_public is True:
        problems.append(
            "server.metrics_public: /metrics must not be public in production "
            "(set server.metrics_token, or leave it off)"
        )
    if settings.server.metrics_token.get_secret_value():
        problems += _weak("server.metrics_token", settings.server.metrics_token)
    if settings.database_url.startswith("sqlite") and settings.server.replicas > 1:
        problems.append("database.url: SQLite cannot serve more than one replica")
    if settings.risk.storage_url.startswith("memory") and settings.server.replicas > 1:
        problems.append("risk.storage_url: in-memory rate limits cannot serve several replicas")
    problems += _key_problems(settings, KEY_NAMES)
    if settings.livekit.webhook_api_key and (
        settings.livekit.webhook_api_key == settings.livekit.api_key
    ):
        problems.append(
            "livekit.webhook_api_key: webhooks need their own LiveKit key pair, never the "
            "control plane's (README LiveKit keys)"
        )
    for name, secret in (
        ("livekit.api_secret", settings.livekit.api_secret),
        ("livekit.webhook_api_secret", settings.livekit.webhook_api_secret),
        ("oidc.client_secret", settings.oidc.client_secret),
    ):
        problems += _weak(name, secret)
    return problems


def unsafe_supervisor_settings(settings: Settings) -> list[Problem]:
    """What a standalone worker supervisor (``control-plane agents run``) needs, checked
    alone: the store, the worker-credential key and the agents' own LiveKit key pair. It
    holds none of the API's other secrets, so none of them is asked for."""
    problems = _agent_key_problems(settings)
    if settings.is_development:
        return problems
    if settings.database_url.startswith("sqlite"):
        problems.append("database.url: a standalone supervisor shares the API's PostgreSQL")
    if not settings.agents.internal_url:
        problems.append("agents.internal_url: required in production (the API's internal URL)")
    return problems + _key_problems(settings, ("worker_credential_key",))


def _load(overrides: Mapping[str, object], check: Callable[[Settings], list[Problem]]) -> Settings:
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        raise ConfigError(f"invalid setting {where}: {first['msg']}") from None
    problems = check(settings)
    if problems:
        raise ConfigError(f"unsafe setting {problems[0]}")
    return settings


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; raises ConfigError with one line naming the setting."""
    return _load(overrides, unsafe_settings)


def load_supervisor_settings(**overrides: object) -> Settings:
    """``load_settings`` for ``control-plane agents run`` (see ``unsafe_supervisor_settings``)."""
    return _load(overrides, unsafe_supervisor_settings)
