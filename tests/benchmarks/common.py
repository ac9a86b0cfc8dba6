"""Shared benchmark plumbing: a real `control-plane serve` subprocess, wrk, tables."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.harness import REPO_ROOT, HarnessEnv


def control_plane_env(env: HarnessEnv, var_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a control plane wired to the harness services (embedded SQLite)."""
    values = {
        "CONTROL_PLANE_SERVER__VAR_DIR": str(var_dir),
        "CONTROL_PLANE_POLICIES__DIR": str(REPO_ROOT / "policies"),
        "CONTROL_PLANE_LIVEKIT__URL": env.livekit_url,
        "CONTROL_PLANE_LIVEKIT__API_KEY": env.livekit_api_key,
        "CONTROL_PLANE_LIVEKIT__API_SECRET": env.livekit_api_secret,
        "CONTROL_PLANE_LIVEKIT__WEBHOOK_API_KEY": env.livekit_webhook_key,
        "CONTROL_PLANE_LIVEKIT__WEBHOOK_API_SECRET": env.livekit_webhook_secret,
        "CONTROL_PLANE_OIDC__ISSUER": env.idp_issuer,
        "CONTROL_PLANE_OIDC__CLIENT_ID": env.idp_web_client_id,
        "CONTROL_PLANE_OIDC__CLIENT_SECRET": env.idp_web_client_secret,
        "CONTROL_PLANE_OIDC__AUDIENCE": env.idp_audience,
        **extra,
    }
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CONTROL_PLANE_")},
        **values,
    }


@contextmanager
def served(environment: Mapping[str, str], *, port: int) -> Iterator[str]:
    """Run `control-plane serve` on 127.0.0.1:port until the block ends."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "control_plane", "serve", "--port", str(port)],
            env=dict(environment),
            stdout=log,
            stderr=log,
            cwd=REPO_ROOT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"server did not start: {log.read()[-2000:]!r}")
                time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip()).groups()  # type: ignore[union-attr]
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]
    return float(number) * scale


def run_wrk(
    url: str,
    *,
    method: str = "POST",
    body: str = "{}",
    headers: Mapping[str, str] | None = None,
    connections: int = 50,
    duration_s: int = 10,
    threads: int = 2,
) -> WrkResult:
    """Drive ``url`` with wrk over loopback; parse throughput and latency percentiles."""
    lines = [f'wrk.method = "{method}"', f"wrk.body = [[{body}]]"]
    lines.append('wrk.headers["Content-Type"] = "application/json"')
    for name, value in (headers or {}).items():
        lines.append(f'wrk.headers["{name}"] = "{value}"')
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{duration_s}s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=duration_s + 60,
        ).stdout
    finally:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non_2xx_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors_match = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", out)
    errors = sum(int(g) for g in errors_match.groups()) if errors_match else 0
    return WrkResult(
        requests_per_second=rps,
        p50_ms=p50,
        p99_ms=p99,
        non_2xx=int(non_2xx_match.group(1)) if non_2xx_match else 0,
        errors=errors,
    )


VEGETA_VERSION = "v12.13.0"
_VEGETA_MODULE = "github.com/tsenart/vegeta/v12"


def ensure_vegeta() -> Path | None:
    """vegeta (an open-loop HTTP load generator in Go), built once into the harness cache
    with ``go install`` from the Go module proxy; None when Go is not installed."""
    cache = Path(os.environ.get("CP_CACHE_DIR", Path.home() / ".cache" / "control-plane"))
    bin_dir = cache / "bin" / f"vegeta-{VEGETA_VERSION}"
    binary = bin_dir / "vegeta"
    if binary.exists():
        return binary
    go = shutil.which("go")
    if go is None:
        return None
    subprocess.run(
        [go, "install", f"{_VEGETA_MODULE}@{VEGETA_VERSION}"],
        env={**os.environ, "GOBIN": str(bin_dir), "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"},
        check=True,
        capture_output=True,
        timeout=600,
    )
    return binary


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """A plain Markdown table on stdout."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    out = [
        f"\n{title}\n",
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
    ]
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    sys.stdout.write("\n".join(out) + "\n")
