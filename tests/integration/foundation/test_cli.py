"""The `control-plane` command on a clean directory: embedded serve, doctor, keys."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.harness import REPO_ROOT, HarnessEnv

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROL_PLANE_")}
    env.update({"HOME": str(home), **extra})
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "control_plane", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_serve_with_no_configuration_runs_embedded_and_says_so(tmp_path: Path) -> None:
    port = _free_port()
    env = _clean_env(tmp_path, CONTROL_PLANE_POLICIES__DIR=str(REPO_ROOT / "policies"))
    process = subprocess.Popen(
        [sys.executable, "-m", "control_plane", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert process.poll() is None, "server exited"
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert health.status_code == 200
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.status_code == 503
        assert "livekit" in ready.json()["detail"]
        assert (tmp_path / "var" / "control-plane.db").exists()
        assert sorted(p.name for p in (tmp_path / "var" / "keys").iterdir())
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
    assert "embedded" in out
    assert "sqlite" in out


def test_doctor_reports_each_real_service(tmp_path: Path, harness_env: HarnessEnv) -> None:
    env = _clean_env(
        tmp_path,
        CONTROL_PLANE_POLICIES__DIR=str(REPO_ROOT / "policies"),
        CONTROL_PLANE_DATABASE__URL=harness_env.test_pg_url,
        CONTROL_PLANE_RISK__STORAGE_URL=harness_env.redis_url,
        CONTROL_PLANE_LIVEKIT__URL=harness_env.livekit_url,
        CONTROL_PLANE_LIVEKIT__API_KEY=harness_env.livekit_api_key,
        CONTROL_PLANE_LIVEKIT__API_SECRET=harness_env.livekit_api_secret,
        CONTROL_PLANE_OIDC__ISSUER=harness_env.idp_issuer,
        CONTROL_PLANE_OIDC__CLIENT_ID=harness_env.idp_web_client_id,
    )
    result = _run(["doctor"], tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for name in ("database", "policies", "livekit", "oidc issuer", "rate-limit store"):
        (line,) = [line for line in lines if line.startswith(name)]
        assert " ok " in f"{line} "
    assert "postgresql" in result.stdout
    assert "redis" in result.stdout
    for secret in (harness_env.livekit_api_secret, harness_env.redis_url):
        assert secret not in result.stdout


def test_doctor_names_what_is_down(tmp_path: Path) -> None:
    env = _clean_env(
        tmp_path,
        CONTROL_PLANE_POLICIES__DIR=str(REPO_ROOT / "policies"),
        CONTROL_PLANE_LIVEKIT__URL="http://127.0.0.1:9",
        CONTROL_PLANE_OIDC__ISSUER="http://127.0.0.1:9",
        CONTROL_PLANE_RISK__STORAGE_URL="redis://127.0.0.1:9/0",
    )
    result = _run(["doctor"], tmp_path, env)
    assert result.returncode == 1
    failing = [line.split()[0] for line in result.stdout.splitlines() if "FAIL" in line]
    assert "livekit" in failing
    assert "oidc" in failing
    assert "rate-limit" in failing
    assert "Traceback" not in result.stderr


def test_keys_init_never_overwrites(tmp_path: Path) -> None:
    env = _clean_env(tmp_path)
    first = _run(["keys", "init"], tmp_path, env)
    assert first.returncode == 0
    assert "created" in first.stdout
    before = {p.name: p.read_text() for p in (tmp_path / "var" / "keys").iterdir()}
    second = _run(["keys", "init"], tmp_path, env)
    assert "created" not in second.stdout
    assert before == {p.name: p.read_text() for p in (tmp_path / "var" / "keys").iterdir()}
