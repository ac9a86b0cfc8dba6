"""How workers are launched: the environment allow-list, refused settings, backoff, the
credential file, the internal URL (pure, plus one file in a temp dir)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from control_plane.agents.launch import (
    check_agent_settings,
    default_internal_url,
    restart_delay,
    worker_environment,
    write_credential_file,
)
from control_plane.config import AgentSettings, LiveKitSettings, ServerSettings, Settings
from control_plane.errors import ConfigError


def _settings(**agents: object) -> Settings:
    return Settings(
        livekit=LiveKitSettings(
            url="http://127.0.0.1:7880", api_key="cp-api", api_secret=SecretStr("cp-secret")
        ),
        agents=AgentSettings.model_validate(
            {
                "workers": 1,
                "livekit_api_key": "cp-agent",
                "livekit_api_secret": "agent-secret",
                **agents,
            }
        ),
    )


PARENT = {
    "PATH": "/usr/bin",
    "LANG": "C.UTF-8",
    "HOME": "/root",
    "CONTROL_PLANE_KEYS__KEK": "kek",
    "CONTROL_PLANE_LIVEKIT__API_SECRET": "cp-secret",
    "OPENAI_API_KEY": "sk-test",
    "AWS_SECRET_ACCESS_KEY": "aws",
}


def test_the_child_environment_is_the_allow_list_and_nothing_else() -> None:
    env = worker_environment(
        settings=_settings(),
        internal_url="http://127.0.0.1:8787",
        worker_id="wrk_1",
        credential_file=Path("/var/agents/wrk_1.credential"),
        environ=PARENT,
    )
    assert env["LIVEKIT_API_KEY"] == "cp-agent"
    assert env["LIVEKIT_API_SECRET"] == "agent-secret"
    assert env["LIVEKIT_URL"] == "ws://127.0.0.1:7880"
    assert env["CP_WORKER_ID"] == "wrk_1"
    assert env["PATH"] == "/usr/bin"
    assert env["LANG"] == "C.UTF-8"
    for leaked in ("HOME", "CONTROL_PLANE_KEYS__KEK", "OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY"):
        assert leaked not in env
    assert "cp-secret" not in env.values()


def test_a_named_passthrough_is_the_only_way_in() -> None:
    env = worker_environment(
        settings=_settings(passthrough_env=["OPENAI_API_KEY"], pipeline="chained"),
        internal_url="http://x",
        worker_id="w",
        credential_file=Path("c"),
        environ=PARENT,
    )
    assert env["OPENAI_API_KEY"] == "sk-test"
    assert env["CP_AGENT_PIPELINE"] == "chained"


@pytest.mark.parametrize(
    ("changes", "setting"),
    [
        ({"livekit_api_key": "cp-api"}, "agents.livekit_api_key"),
        ({"livekit_api_secret": "cp-secret"}, "agents.livekit_api_key"),
        ({"livekit_api_key": ""}, "agents.livekit_api_key"),
        ({"passthrough_env": ["CONTROL_PLANE_KEYS__KEK"]}, "agents.passthrough_env"),
        ({"passthrough_env": ["LIVEKIT_API_SECRET"]}, "agents.passthrough_env"),
        ({"passthrough_env": ["CP_WORKER_ID"]}, "agents.passthrough_env"),
    ],
)
def test_unsafe_agent_settings_are_refused(changes: dict[str, object], setting: str) -> None:
    with pytest.raises(ConfigError, match=setting):
        check_agent_settings(_settings(**changes))


def test_restart_backoff_doubles_up_to_the_cap() -> None:
    delays = [restart_delay(n, base=1.0, cap=60.0) for n in range(9)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    assert restart_delay(10_000, base=1.0, cap=60.0) == 60.0


def test_the_credential_file_is_private_from_its_first_byte(tmp_path: Path) -> None:
    target = tmp_path / "wrk.credential"
    write_credential_file(target, "first")
    write_credential_file(target, "second")
    assert target.read_text() == "second\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["wrk.credential"]


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:9000"),
        ("0.0.0.0", "http://127.0.0.1:9000"),  # noqa: S104 - the case under test
        ("::", "http://[::1]:9000"),
    ],
)
def test_internal_url_defaults_to_this_server(host: str, url: str) -> None:
    settings = _settings().model_copy(update={"server": ServerSettings(host=host, port=9000)})
    assert default_internal_url(settings) == url
    explicit = _settings(internal_url="https://cp.internal:8443/")
    assert default_internal_url(explicit) == "https://cp.internal:8443"
