"""A real ``control-plane serve`` child process, for tests that need the real HTTP server
(its protocol layer, timeouts and limits), reached with raw sockets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.harness import REPO_ROOT

START_TIMEOUT_SECONDS = 120.0


def free_port() -> int:
    """A free local port: from ``CP_TEST_PORTS`` (``first-last``) when set, so parallel
    suites on one machine stay in their own ranges; otherwise one the OS picks."""
    ports = os.environ.get("CP_TEST_PORTS", "")
    candidates = [0]
    if ports:
        first, _, last = ports.partition("-")
        candidates = list(range(int(first), int(last or first) + 1))
    for candidate in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            port: int = sock.getsockname()[1]
            return port
    raise RuntimeError(f"no free port in {ports}")


class ServedApp:
    """``python -m control_plane serve`` on embedded defaults plus ``settings`` (env)."""

    def __init__(self, tmp: Path, settings: dict[str, str]) -> None:
        self.port = free_port()
        self.log = tmp / "serve.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROL_PLANE_")}
        env.update(
            {
                "CONTROL_PLANE_SERVER__VAR_DIR": str(tmp / "var"),
                "CONTROL_PLANE_POLICIES__DIR": str(REPO_ROOT / "policies"),
                **settings,
            }
        )
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "control_plane", "serve", "--port", str(self.port)],
                cwd=tmp,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self.is_healthy():
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited: {self.log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("serve did not become healthy")
            time.sleep(0.2)

    def is_healthy(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def connect(self, timeout: float = 60.0) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """Read until the server closes the connection; the status code and everything."""
    received = b""
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        received += data
    status = int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/1.1 ") else 0
    return status, received
