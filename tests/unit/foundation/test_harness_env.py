"""The harness's control-plane.env gives the stack's server and the CLI one key ring.

Issue 13, point 8: `scripts/stack` used to set its own var dir after sourcing the env file,
so a CLI run that sourced the same file read `var/keys` while the server signed with
`var/stack/keys`; `audit verify` and `privacy verify-receipt` then raised false tamper
alarms. The harness script runs here on a copy of itself in a temporary checkout, so it
generates its own throwaway secrets and never touches the shared `var/harness`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.harness import REPO_ROOT, SERVICES_SCRIPT

_SOURCE_AND_RUN = 'set -a; . "$1"; set +a; shift; exec "$@"'


def _clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CONTROL_PLANE_")}


def _write_env(checkout: Path) -> Path:
    script = checkout / "scripts" / "harness" / "services.sh"
    script.parent.mkdir(parents=True)
    shutil.copy2(SERVICES_SCRIPT, script)
    subprocess.run(
        ["bash", str(script), "env"], check=True, capture_output=True, env=_clean_environ()
    )
    return checkout / "var" / "harness" / "control-plane.env"


def _cli(env_file: Path, cwd: Path, *args: str) -> str:
    """`control-plane ARGS` with the env file sourced, as scripts/stack and a user do."""
    result = subprocess.run(
        [
            "bash",
            "-c",
            _SOURCE_AND_RUN,
            "bash",
            str(env_file),
            sys.executable,
            "-m",
            "control_plane",
            *args,
        ],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env=_clean_environ(),
    )
    return result.stdout


def test_stack_server_and_cli_share_one_key_ring(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    env_file = _write_env(checkout)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    # The stack's side: scripts/stack runs from the checkout root with the file sourced.
    created = _cli(env_file, checkout, "keys", "init")
    server_key = _cli(env_file, checkout, "keys", "audit-public-key")
    # An operator's side: the same file sourced, any working directory.
    cli_key = _cli(env_file, elsewhere, "keys", "audit-public-key")

    assert cli_key == server_key
    assert str(checkout / "var" / "stack" / "keys") in created
    assert not (elsewhere / "var").exists()


def test_stack_takes_every_setting_from_the_env_file() -> None:
    """No CONTROL_PLANE_ variable of its own: the CLI could not know about it."""
    stack = (REPO_ROOT / "scripts" / "stack").read_text()
    assert ". var/harness/control-plane.env" in stack
    assert re.findall(r"CONTROL_PLANE_\w+=", stack) == []
