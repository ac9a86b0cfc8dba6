"""How a worker process is launched: its environment (an allow-list), its credential file,
its restart backoff. Pure functions and one file write; the supervisor drives them."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from control_plane.config import Settings
from control_plane.errors import ConfigError

WORKER_MODULE: Final = "control_plane.agents.worker"
# Inherited as-is when set: locale, time zone, temp dir and the executable search path.
# Nothing here is a secret; anything else must be named in agents.passthrough_env.
BASE_PASSTHROUGH: Final = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
# Names a passthrough may never carry: the control plane's own settings and keys, and the
# variables the supervisor itself sets (a passthrough must not override them).
_RESERVED_PREFIXES: Final = ("CONTROL_PLANE_", "LIVEKIT_", "CP_")


def default_internal_url(settings: Settings) -> str:
    """Where this process serves the internal API, as seen from a worker on this host."""
    if settings.agents.internal_url:
        return settings.agents.internal_url.rstrip("/")
    host = settings.server.host
    if host in {"", "0.0.0.0"}:  # noqa: S104 - a wildcard bind is reached over loopback
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.server.port}"


def check_agent_settings(settings: Settings) -> None:
    """Refuse to launch workers with the control plane's key or a smuggled secret."""
    agents = settings.agents
    if not agents.livekit_api_key or not agents.livekit_api_secret.get_secret_value():
        raise ConfigError("agents.livekit_api_key: workers need the agents' LiveKit key pair")
    if agents.livekit_api_key == settings.livekit.api_key or (
        agents.livekit_api_secret.get_secret_value()
        == settings.livekit.api_secret.get_secret_value()
    ):
        raise ConfigError("agents.livekit_api_key: must not be the control plane's key pair")
    for name in agents.passthrough_env:
        if name.upper().startswith(_RESERVED_PREFIXES) or name in BASE_PASSTHROUGH:
            raise ConfigError(f"agents.passthrough_env: {name} may not be passed to workers")


def worker_environment(
    *,
    settings: Settings,
    internal_url: str,
    worker_id: str,
    credential_file: Path,
    environ: Mapping[str, str],
) -> dict[str, str]:
    """The complete environment of one worker process (pure; the allow-list is the code)."""
    agents = settings.agents
    env = {
        name: environ[name]
        for name in (*BASE_PASSTHROUGH, *agents.passthrough_env)
        if name in environ
    }
    env.update(
        {
            "LIVEKIT_URL": settings.livekit.ws_url,
            "LIVEKIT_API_KEY": agents.livekit_api_key,
            "LIVEKIT_API_SECRET": agents.livekit_api_secret.get_secret_value(),
            "CP_INTERNAL_URL": internal_url,
            "CP_WORKER_ID": worker_id,
            "CP_WORKER_CREDENTIAL_FILE": str(credential_file),
            "CP_AGENT_NAME": agents.agent_name,
            "CP_AGENT_PIPELINE": agents.pipeline,
            "CP_AGENT_MAX_JOBS": str(agents.max_jobs_per_worker),
            "CP_AGENT_LOAD_THRESHOLD": str(agents.load_threshold),
            "CP_AGENT_HEARTBEAT_INTERVAL": str(agents.heartbeat_interval_seconds),
            # The worker finishes its drain before the supervisor's patience runs out.
            "CP_AGENT_DRAIN_TIMEOUT": str(max(1, int(agents.drain_timeout_seconds) - 5)),
            "CP_AGENT_LOG_LEVEL": agents.log_level,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def restart_delay(failures: int, *, base: float, cap: float) -> float:
    """Exponential backoff before restart number ``failures + 1`` of a failing slot."""
    return float(min(cap, base * (2.0 ** min(failures, 30))))


def write_credential_file(path: Path, credential: str) -> None:
    """Replace the credential file atomically; it is 0600 from its first byte."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(credential + "\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
