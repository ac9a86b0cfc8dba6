"""Settings: embedded defaults need nothing; unsafe values are refused in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from control_plane.config import (
    Environment,
    KeySettings,
    Settings,
    load_settings,
    load_supervisor_settings,
    unsafe_settings,
)
from control_plane.crypto.keyring import load_worker_credential_key
from control_plane.errors import ConfigError

STRONG = "x" * 40


def _production(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "env": Environment.PRODUCTION,
        "database": {"url": "postgresql+psycopg://cp@db/cp"},
        "oidc": {"issuer": "https://idp.example", "client_id": "cp", "client_secret": STRONG},
        "livekit": {"api_key": "k", "api_secret": STRONG, "webhook_api_secret": STRONG},
        "keys": {
            name: STRONG
            for name in (
                "pseudonym_key",
                "session_secret",
                "kek",
                "audit_signing_key",
                "receipt_signing_key",
                "worker_credential_key",
            )
        },
    }
    base.update(overrides)
    return base


def test_embedded_defaults_need_no_configuration() -> None:
    settings = load_settings()
    assert settings.is_development
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.risk.storage_url == "memory://"
    assert unsafe_settings(settings) == []


def test_a_safe_production_profile_loads() -> None:
    settings = load_settings(**_production())
    assert settings.env is Environment.PRODUCTION
    assert settings.metrics_public is False  # unset: /metrics is not public in production


@pytest.mark.parametrize(
    ("override", "named"),
    [
        (
            {"oidc": {"issuer": "http://idp.example", "client_id": "cp", "client_secret": STRONG}},
            "oidc.issuer",
        ),
        ({"keys": {}}, "keys.pseudonym_key"),
        (
            {"livekit": {"api_key": "k", "api_secret": "short", "webhook_api_secret": STRONG}},
            "livekit.api_secret",
        ),
        ({"database": {"url": ""}, "server": {"replicas": 3}}, "database.url"),
        (
            {
                "livekit": {
                    "api_key": "k",
                    "api_secret": STRONG,
                    "webhook_api_key": "k",
                    "webhook_api_secret": STRONG,
                }
            },
            "livekit.webhook_api_key",
        ),
        ({"server": {"cors_origins": ["*"]}}, "server.cors_origins"),
        ({"server": {"cors_origins": ["http://console.example"]}}, "server.cors_origins"),
        ({"server": {"metrics_public": True}}, "server.metrics_public"),
        ({"server": {"metrics_token": "short"}}, "server.metrics_token"),
        ({"tokens": {"max_ttl_seconds": 3600}}, "tokens.max_ttl_seconds"),
    ],
)
def test_production_refuses_unsafe_settings_naming_them(
    override: dict[str, object], named: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**_production(**override))
    message = str(caught.value)
    assert named in message
    assert "\n" not in message


def test_a_wrong_value_names_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"tokens\.default_ttl_seconds"):
        load_settings(tokens={"default_ttl_seconds": "soon"})


@pytest.mark.parametrize(
    ("section", "values", "named"),
    [
        ("server", {"event_loop": "tokio"}, r"server\.event_loop"),
        ("server", {"keep_alive_seconds": 0}, r"server\.keep_alive_seconds"),
        ("server", {"max_header_bytes": 100}, r"server\.max_header_bytes"),
        ("server", {"max_header_bytes": 10**9}, r"server\.max_header_bytes"),
        ("server", {"header_timeout_seconds": 0}, r"server\.header_timeout_seconds"),
        ("server", {"body_timeout_seconds": -1}, r"server\.body_timeout_seconds"),
        ("server", {"body_timeout_seconds": 10**6}, r"server\.body_timeout_seconds"),
        ("server", {"cors_origins": ["https://console.example/path"]}, r"server\.cors_origins"),
        ("server", {"cors_origins": ["console.example"]}, r"server\.cors_origins"),
        ("server", {"cors_origins": ["*"], "cors_allow_credentials": True}, r"server"),
        ("oidc", {"verified_token_cache_size": -1}, r"oidc\.verified_token_cache_size"),
        ("oidc", {"verified_token_cache_size": 10**9}, r"oidc\.verified_token_cache_size"),
    ],
)
def test_out_of_range_serving_and_cache_settings_are_refused(
    section: str, values: dict[str, object], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(**{section: values})


def test_nested_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTROL_PLANE_TOKENS__DEFAULT_TTL_SECONDS", "90")
    assert Settings().tokens.default_ttl_seconds == 90


def test_cli_config_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    env = {"CONTROL_PLANE_ENV": "production", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "control_plane", "migrate"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: unsafe setting ")
    assert "Traceback" not in result.stderr


def _supervisor(**overrides: object) -> dict[str, object]:
    """A production worker supervisor: the store, its one key, the agents' key pair."""
    base: dict[str, object] = {
        "env": Environment.PRODUCTION,
        "database": {"url": "postgresql+psycopg://agents@db/cp"},
        "keys": {"worker_credential_key": STRONG},
        "agents": {
            "livekit_api_key": "agents",
            "livekit_api_secret": STRONG,
            "internal_url": "http://control-plane.internal",
        },
    }
    base.update(overrides)
    return base


def test_a_supervisor_needs_none_of_the_apis_other_secrets() -> None:
    settings = load_supervisor_settings(**_supervisor())
    assert settings.keys.kek is None
    assert settings.oidc.client_secret.get_secret_value() == ""
    with pytest.raises(ConfigError):  # the API itself would refuse this profile
        load_settings(**_supervisor())


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"keys": {}}, "keys.worker_credential_key"),
        ({"keys": {"worker_credential_key": "short"}}, "keys.worker_credential_key"),
        ({"database": {"url": ""}}, "database.url"),
        (
            {"agents": {"livekit_api_key": "agents", "livekit_api_secret": STRONG}},
            "agents.internal_url",
        ),
        (
            {
                "agents": {
                    "livekit_api_key": "",
                    "livekit_api_secret": STRONG,
                    "internal_url": "http://cp",
                }
            },
            "agents.livekit_api_key",
        ),
        (
            {
                "livekit": {"webhook_api_key": "hooks"},
                "agents": {
                    "livekit_api_key": "hooks",
                    "livekit_api_secret": STRONG,
                    "internal_url": "http://cp",
                },
            },
            "agents.livekit_api_key",
        ),
        (
            {
                "agents": {
                    "livekit_api_key": "agents",
                    "livekit_api_secret": "short",
                    "internal_url": "http://cp",
                }
            },
            "agents.livekit_api_secret",
        ),
    ],
)
def test_a_supervisor_refuses_what_it_needs_and_lacks_naming_it(
    override: dict[str, object], named: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_supervisor_settings(**_supervisor(**override))
    assert named in str(caught.value)


def test_a_supervisor_loads_only_its_key(tmp_path: Path) -> None:
    key = load_worker_credential_key(
        KeySettings(worker_credential_key=SecretStr("ab" * 32)), tmp_path, is_development=False
    )
    assert key == bytes.fromhex("ab" * 32)
    assert not any(tmp_path.iterdir())  # no other key asked for, none generated
    with pytest.raises(ConfigError, match=r"keys\.worker_credential_key"):
        load_worker_credential_key(KeySettings(), tmp_path, is_development=False)
