"""The CI secret scan (scripts/lint/secret_scan.py, detect-secrets) fails on a planted secret.

Each test builds a throwaway git checkout; the planted values are assembled at run time so
this file itself holds nothing a scanner would flag.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.harness import REPO_ROOT

SCANNER = REPO_ROOT / "scripts" / "lint" / "secret_scan.py"
# An AWS access key id and a PEM private key header, split so no line here matches.
AWS_KEY = "AKIA" + "Q7ZK3M9TXW2LB4RD"
PRIVATE_KEY = (
    "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEow" + "IBAAKCAQEA7x\n-----END RSA PRIVATE KEY-----\n"
)


def _checkout(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "checkout"
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    return root


def _baseline(root: Path) -> None:
    """A reviewed baseline of what the checkout holds now (what a developer commits)."""
    scanned = subprocess.run(
        [str(Path(sys.executable).parent / "detect-secrets"), "scan"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (root / ".secrets.baseline").write_text(scanned)


def _scan(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCANNER), "--root", str(root)], capture_output=True, text=True
    )


def test_a_planted_secret_fails_the_scan_without_echoing_it(tmp_path: Path) -> None:
    root = _checkout(tmp_path, {"app.py": "TIMEOUT = 3\n"})
    _baseline(root)
    (root / "settings.py").write_text(f'TIMEOUT = 3\nAWS_ACCESS_KEY_ID = "{AWS_KEY}"\n')
    (root / "deploy.pem").write_text(PRIVATE_KEY)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)

    result = _scan(root)

    assert result.returncode == 1, result.stderr
    assert "settings.py:2: AWS Access Key" in result.stderr
    assert "deploy.pem:1: Private Key" in result.stderr
    assert AWS_KEY not in result.stderr + result.stdout


def test_reviewed_fixtures_pass_even_when_their_lines_move(tmp_path: Path) -> None:
    root = _checkout(tmp_path, {"fixture.py": f'KEY = "{AWS_KEY}"\n'})
    _baseline(root)
    (root / "fixture.py").write_text(f'"""Test fixture."""\n\nKEY = "{AWS_KEY}"\n')

    result = _scan(root)

    assert result.returncode == 0, result.stderr


def test_a_missing_baseline_fails_the_scan(tmp_path: Path) -> None:
    root = _checkout(tmp_path, {"app.py": "TIMEOUT = 3\n"})

    result = _scan(root)

    assert result.returncode != 0
