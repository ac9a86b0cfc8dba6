"""Regenerate the single pre-release migration 0001 from the current tables.

Run while nothing is released: `uv run python scripts/dev/regen_initial_migration.py`.
Once a release exists, add new revisions with Alembic instead (never edit a released one).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from control_plane.store.migrate import MIGRATIONS_DIR, alembic_config


def main() -> int:
    target = MIGRATIONS_DIR / "versions" / "0001_initial.py"
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        config = alembic_config(f"sqlite+aiosqlite:///{Path(tmp) / 'gen.db'}")
        command.revision(config, message="initial", autogenerate=True, rev_id="0001")
    text = target.read_text().replace("Revises: \n", "Revises: (none)\n")
    target.write_text(text)
    ruff = Path(sys.executable).parent / "ruff"
    subprocess.run([str(ruff), "check", "--fix", "-q", str(target)], check=False)
    subprocess.run([str(ruff), "format", "-q", str(target)], check=True)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
