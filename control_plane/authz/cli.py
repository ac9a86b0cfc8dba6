"""`control-plane policy validate|test|what-if|reload`."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Annotated

import typer

from control_plane.authz.cases import load_cases, parse_request, run_cases
from control_plane.authz.engine import load_snapshot
from control_plane.authz.errors import PolicyCaseInvalid, PolicySetInvalid
from control_plane.authz.service import what_if

app = typer.Typer(no_args_is_help=True, help="Cedar policies: validate, test, what-if, reload.")

DIR_OPTION = typer.Option(Path("policies"), "--dir", help="Policy directory.")


@app.command()
def validate(directory: Path = DIR_OPTION) -> None:
    """Parse and STRICT-validate a policy directory; print its version."""
    try:
        snapshot = load_snapshot(directory)
    except PolicySetInvalid as exc:
        for problem in exc.problems:
            typer.echo(f"invalid: {problem}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"valid: {len(snapshot.policies)} policies, version {snapshot.version}")


@app.command("test")
def run_tests(directory: Path = DIR_OPTION) -> None:
    """Run the policy test cases in DIR/tests against DIR; exit 1 on any failure."""
    try:
        snapshot = load_snapshot(directory)
        cases = load_cases(directory / "tests")
    except (PolicySetInvalid, PolicyCaseInvalid) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    results = run_cases(snapshot, cases)
    failed = [r for r in results if not r.is_passed]
    for result in failed:
        typer.echo(f"FAIL {result.case.file}: {result.case.name}: {'; '.join(result.problems)}")
    typer.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


@app.command("what-if")
def what_if_command(
    candidate: Annotated[Path, typer.Option(help="Candidate policy directory.")],
    requests: Annotated[Path, typer.Option(help="JSON file: a list of requests (case shape).")],
    directory: Path = DIR_OPTION,
) -> None:
    """Decide each request under the current and the candidate set; show what changes."""
    try:
        current = load_snapshot(directory)
        proposed = load_snapshot(candidate)
        raw = json.loads(requests.read_text())
        if not isinstance(raw, list):
            raise PolicyCaseInvalid("the requests file must hold a JSON list")
        parsed = [parse_request(item) for item in raw]
    except (PolicySetInvalid, PolicyCaseInvalid, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    changed = 0
    for row in what_if(current, proposed, parsed):
        before = "allow" if row.current.allowed else "deny"
        after = "allow" if row.candidate.allowed else "deny"
        mark = "CHANGED" if row.is_changed else "same   "
        changed += row.is_changed
        typer.echo(f"{mark} {row.request.action.value}: {before} -> {after}")
    typer.echo(f"{changed} of {len(parsed)} decisions change")


@app.command()
def reload(pid: Annotated[int, typer.Option(help="PID of the running control plane.")]) -> None:
    """Ask a running control plane to reload its policies (SIGHUP; the reload is audited
    and an invalid set is refused, keeping the old one). Remote: POST /v1/policies/reload."""
    os.kill(pid, signal.SIGHUP)
    typer.echo(f"sent SIGHUP to {pid}")
