"""Typed access to the local real-service harness (``scripts/harness/services.sh``).

The harness runs PostgreSQL, Redis, livekit-server and an OIDC provider on 127.0.0.1 and
writes what a consumer needs to ``var/harness/env``. Tests read it through ``HarnessEnv``;
``ensure_services`` starts whatever is not up yet.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Final, Literal

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
SERVICES_SCRIPT: Final = REPO_ROOT / "scripts" / "harness" / "services.sh"
ENV_FILE: Final = REPO_ROOT / "var" / "harness" / "env"

ServiceName = Literal["postgres", "redis", "livekit", "idp"]
ALL_SERVICES: Final[tuple[ServiceName, ...]] = ("postgres", "redis", "livekit", "idp")
SERVICE_PORTS: Final[Mapping[ServiceName, int]] = {
    "postgres": 55432,
    "redis": 56379,
    "livekit": 7880,
    "idp": 9400,
}
# A cold start can build livekit-server from source (a few minutes on 2 cores).
START_TIMEOUT_SECONDS: Final = 1200.0


class HarnessError(RuntimeError):
    """The harness could not be started or its environment is incomplete."""


@dataclass(frozen=True)
class HarnessEnv:
    """Connection details of the local services, as written by ``services.sh env``.

    Each field's metadata names its variable; secrets and credential-bearing URLs are kept
    out of ``repr`` so they never show up in pytest output.
    """

    test_pg_url: str = field(repr=False, metadata={"env": "CP_TEST_PG_URL"})
    pg_url: str = field(repr=False, metadata={"env": "CP_PG_URL"})
    redis_url: str = field(repr=False, metadata={"env": "CP_TEST_REDIS_URL"})
    livekit_url: str = field(metadata={"env": "CP_TEST_LIVEKIT_URL"})
    livekit_ws_url: str = field(metadata={"env": "CP_TEST_LIVEKIT_WS_URL"})
    livekit_api_key: str = field(metadata={"env": "CP_TEST_LIVEKIT_API_KEY"})
    livekit_api_secret: str = field(repr=False, metadata={"env": "CP_TEST_LIVEKIT_API_SECRET"})
    livekit_agent_key: str = field(metadata={"env": "CP_TEST_LIVEKIT_AGENT_KEY"})
    livekit_agent_secret: str = field(repr=False, metadata={"env": "CP_TEST_LIVEKIT_AGENT_SECRET"})
    livekit_webhook_key: str = field(metadata={"env": "CP_TEST_LIVEKIT_WEBHOOK_KEY"})
    livekit_webhook_secret: str = field(
        repr=False, metadata={"env": "CP_TEST_LIVEKIT_WEBHOOK_SECRET"}
    )
    idp_issuer: str = field(metadata={"env": "CP_TEST_IDP_ISSUER"})
    idp_web_client_id: str = field(metadata={"env": "CP_TEST_IDP_WEB_CLIENT_ID"})
    idp_web_client_secret: str = field(
        repr=False, metadata={"env": "CP_TEST_IDP_WEB_CLIENT_SECRET"}
    )
    idp_native_client_id: str = field(metadata={"env": "CP_TEST_IDP_NATIVE_CLIENT_ID"})
    idp_audience: str = field(metadata={"env": "CP_TEST_IDP_AUDIENCE"})

    @classmethod
    def variable_names(cls) -> tuple[str, ...]:
        """The environment variable behind each field, in field order."""
        return tuple(str(f.metadata["env"]) for f in fields(cls))

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> HarnessEnv:
        """Build from variable names to values; every variable is required."""
        missing = [name for name in cls.variable_names() if not values.get(name)]
        if missing:
            raise HarnessError(f"harness environment lacks {', '.join(missing)}")
        kwargs = {f.name: values[str(f.metadata["env"])] for f in fields(cls)}
        return cls(**kwargs)

    @classmethod
    def load(
        cls, env_file: Path = ENV_FILE, environ: Mapping[str, str] | None = None
    ) -> HarnessEnv:
        """Read ``var/harness/env``; a variable set in the environment wins over the file."""
        values = read_env_file(env_file) if env_file.exists() else {}
        environ = os.environ if environ is None else environ
        values.update({name: environ[name] for name in cls.variable_names() if environ.get(name)})
        return cls.from_mapping(values)


def read_env_file(path: Path) -> dict[str, str]:
    """Parse the ``export NAME='value'`` lines that ``services.sh env`` writes."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            values[name] = value
    return values


def is_listening(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def run_services(
    verb: Literal["install", "start", "stop", "status", "env"],
    names: Iterable[ServiceName] = ALL_SERVICES,
    *,
    webhook_url: str | None = None,
    timeout: float = START_TIMEOUT_SECONDS,
) -> subprocess.CompletedProcess[str]:
    """Run ``services.sh VERB NAMES...``; its output is captured, a failure raises."""
    env = dict(os.environ)
    if webhook_url is not None:
        env["CP_HARNESS_WEBHOOK_URL"] = webhook_url
    result = subprocess.run(
        [str(SERVICES_SCRIPT), verb, *names],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0 and verb != "status":
        raise HarnessError(
            f"services.sh {verb} failed with exit {result.returncode}:\n{result.stderr[-4000:]}"
        )
    return result


def ensure_services(
    names: Iterable[ServiceName] = ALL_SERVICES, *, webhook_url: str | None = None
) -> HarnessEnv:
    """Start the named services unless they already listen, then return their environment.

    With ``webhook_url`` the start always runs, so livekit-server is restarted when its
    webhook target differs from the running config.
    """
    wanted = tuple(dict.fromkeys(names))
    if not wanted:
        raise ValueError("ensure_services needs at least one service name")
    down = [name for name in wanted if not is_listening(SERVICE_PORTS[name])]
    if down or webhook_url is not None or not ENV_FILE.exists():
        run_services("start", wanted, webhook_url=webhook_url)
    return HarnessEnv.load()
