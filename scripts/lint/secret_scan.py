"""Secret scan of the tracked tree (detect-secrets) against the reviewed baseline.

    python scripts/lint/secret_scan.py [--root DIR] [--baseline FILE]

Every file git tracks under ``--root`` is scanned with the plugins and filters the
baseline (``.secrets.baseline``) records. A finding the baseline does not list (same file,
type and secret hash; line numbers may move) fails the scan: exit 1, one line per finding
naming the file, line and detector, never the value. A scan that cannot run (no git, no
baseline) fails too. The baseline holds the fixtures the tests need (dev passwords, test
keys); after reviewing a new one, refresh it with
``uv run detect-secrets scan --baseline .secrets.baseline``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from detect_secrets.core import baseline
from detect_secrets.core.secrets_collection import SecretsCollection

BASELINE_NAME = ".secrets.baseline"


def tracked_files(root: Path) -> list[str]:
    """The files git tracks under ``root`` (relative paths), the baseline itself excluded."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, check=True, capture_output=True, text=True
    ).stdout
    return sorted(
        name
        for name in listed.split("\0")
        if name and name != BASELINE_NAME and (root / name).is_file()
    )


def new_findings(root: Path, baseline_file: Path, files: list[str]) -> list[str]:
    """One line per secret found in ``files`` that the baseline does not list."""
    known = baseline.load(baseline.load_from_file(str(baseline_file)), str(baseline_file))
    listed = {(name, secret.type, secret.secret_hash) for name, secret in known}
    found = SecretsCollection(root=str(root))
    found.scan_files(*files)
    return [
        f"{name}:{secret.line_number}: {secret.type}"
        for name, secret in found
        if (name, secret.type, secret.secret_hash) not in listed
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2])
    parser.add_argument("--baseline", type=Path, default=None)
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    baseline_file: Path = args.baseline or root / BASELINE_NAME
    files = tracked_files(root)
    if not files:
        sys.stderr.write(f"secret scan: git tracks no files under {root}\n")
        return 1
    findings = new_findings(root, baseline_file, files)
    for line in findings:
        sys.stderr.write(f"secret scan: {line}\n")
    if findings:
        sys.stderr.write(
            f"secret scan: {len(findings)} finding(s) not in {BASELINE_NAME}: remove the "
            "secret, or (a test fixture, reviewed) refresh the baseline\n"
        )
        return 1
    sys.stderr.write(f"secret scan: {len(files)} tracked files, no new secrets\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
