"""`control-plane keys rotate-kek`: re-wrap every subject data key under a new KEK.

Two ways to run it:

- Settings first (production, several replicas): set ``keys.kek`` to the NEW key and
  ``keys.previous_kek`` to the OLD one on every replica (both unwrap; new keys are wrapped
  under the new one), then run ``control-plane keys rotate-kek``; when it reports nothing
  left under the old key, drop ``keys.previous_kek`` and destroy the old KEK. Backups taken
  before the rotation hold wraps under the old KEK: destroying it makes them unreadable,
  which is what makes crypto-shredding reach backups.
- Embedded (development key files): ``control-plane keys rotate-kek --new-kek-file PATH``
  re-wraps under the key in PATH, then installs it as ``kek`` and keeps the old one as
  ``kek.previous`` until the next rotation (restart the server to pick it up).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

OPERATOR = "operator:cli"


def _read_key(path: Path) -> bytes:
    from control_plane.crypto.keyring import parse_key

    return parse_key("new_kek", path.read_text())


def _install(key_dir: Path, new_kek: bytes, old_kek: bytes) -> None:
    """Atomically make ``new_kek`` the key file and keep the old one as kek.previous."""
    from control_plane.crypto.keyring import PREVIOUS_KEK_FILE, install_key_files

    install_key_files(
        key_dir, {PREVIOUS_KEK_FILE: old_kek.hex() + "\n", "kek": new_kek.hex() + "\n"}
    )


def rotate_kek(
    new_kek_file: Annotated[
        Path | None,
        typer.Option(help="Embedded mode: the new KEK (hex/base64, >= 32 bytes) to rotate to."),
    ] = None,
) -> None:
    """Re-wrap every data key under the current (or a new) KEK; audited (crypto.key_rotated)."""
    from control_plane.clock import utc_now
    from control_plane.config import load_settings
    from control_plane.crypto.envelope import kek_id
    from control_plane.crypto.keyring import load_key_ring
    from control_plane.crypto.service import RotationReport
    from control_plane.crypto.service import rotate_kek as rotate
    from control_plane.store.engine import create_engine
    from control_plane.store.migrate import upgrade_database

    settings = load_settings()
    keys = load_key_ring(settings.keys, settings.key_dir, is_development=settings.is_development)
    sources = keys.keks()
    target = keys.kek
    if new_kek_file is not None:
        if settings.keys.kek is not None:
            typer.echo("error: keys.kek is set in settings; rotate by settings (see --help)")
            raise typer.Exit(2)
        target = _read_key(new_kek_file)

    async def main() -> RotationReport:
        if settings.is_development:
            await upgrade_database(settings.database_url)
        engine = create_engine(settings.database_url)
        try:
            return await rotate(
                engine, target=target, sources=sources, actor=OPERATOR, now=utc_now()
            )
        finally:
            await engine.dispose()

    report = asyncio.run(main())
    typer.echo(
        f"kek {report.target_kek_id}: {report.rewrapped} data keys re-wrapped, "
        f"{report.already_current} already current"
    )
    if not report.is_complete:
        for key_id, count in sorted(report.unknown_kek.items()):
            typer.echo(f"FAIL: {count} data keys wrapped under unknown KEK {key_id}")
        raise typer.Exit(1)
    if new_kek_file is not None and target != keys.kek:
        _install(settings.key_dir, target, keys.kek)
        typer.echo(
            f"installed kek {kek_id(target)} (previous kek {kek_id(keys.kek)} kept as "
            "kek.previous); restart the server, then delete kek.previous to destroy it"
        )
