"""`control-plane privacy` (redact, verify-receipt) and `control-plane retention run`."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

privacy_app = typer.Typer(no_args_is_help=True, help="Transcript redaction and erasure receipts.")
retention_app = typer.Typer(no_args_is_help=True, help="Retention enforcement.")


@privacy_app.command("redact")
def redact(
    batch_size: Annotated[
        int, typer.Option(min=1, max=1024, help="Lines per model batch (1 for a live peer).")
    ] = 1,
    workers: Annotated[
        int, typer.Option(min=0, max=32, help="Worker processes (0: in this process).")
    ] = 0,
) -> None:
    """Redact a JSON-lines stream: stdin {"id", "text"} -> stdout {"id", "redacted", ...}.

    Exit status 0 when every line was redacted, 1 when at least one line failed.
    """
    from control_plane.logs import configure_logging
    from control_plane.privacy.redaction import Redactor
    from control_plane.privacy.redaction.cli import run_redact_stream

    configure_logging("WARNING", stream=sys.stderr)  # stdout carries the answers only
    if workers > 0:
        from control_plane.privacy.redaction.pool import RedactionPool

        with RedactionPool(workers=workers) as pool:
            code = run_redact_stream(pool, sys.stdin, sys.stdout, batch_size=batch_size)
    else:
        code = run_redact_stream(Redactor(), sys.stdin, sys.stdout, batch_size=batch_size)
    raise typer.Exit(code)


_DEFAULT_CORPUS = Path("tests/data/redaction/generated/test.jsonl")


@privacy_app.command("evaluate")
def evaluate_command(
    corpus: Annotated[
        list[Path] | None,
        typer.Option(
            help="Labeled JSON-lines corpus; repeat for several (default: held-out test)."
        ),
    ] = None,
    errors: Annotated[bool, typer.Option(help="Also list missed and spurious spans.")] = False,
) -> None:
    """Print recall per type and name origin, precision, leaks and over-redaction.

    The default corpus is the generated held-out test side (tests/data/redaction/generated,
    see its build.py for which sources are independent of the redactor's gazetteer).
    """
    from control_plane.logs import configure_logging
    from control_plane.privacy.redaction import Redactor
    from control_plane.privacy.redaction.evaluate import (
        format_report,
        load_corpus,
        mismatches,
        report,
    )

    configure_logging("WARNING", stream=sys.stderr)
    redactor = Redactor()
    for path in corpus or [_DEFAULT_CORPUS]:
        segments = load_corpus(path)
        predicted = [r.entities for r in redactor.redact_many([s.text for s in segments])]
        typer.echo(f"## {path} ({len(segments)} segments, span-overlap matching)")
        typer.echo(format_report(report(segments, predicted)))
        if errors:
            for seg_id, kind, entity_type, _value in mismatches(segments, predicted):
                typer.echo(f"  {seg_id:<14}{kind:<10}{entity_type.value}")


@privacy_app.command("verify-receipt")
def verify_receipt_command(
    file: Annotated[Path, typer.Argument(help="The receipt JSON (as returned by the API).")],
    public_key: Annotated[
        Path | None,
        typer.Option(
            help="File with the base64url public key (GET /v1/privacy/receipt-key); "
            "default: this deployment's receipt key."
        ),
    ] = None,
) -> None:
    """Check a deletion receipt's Ed25519 signature; exit 0 if authentic, 1 if not."""
    from control_plane.privacy.receipt import load_public_key, verify_receipt

    try:
        receipt = json.loads(file.read_text())
        if not isinstance(receipt, dict):
            raise ValueError("not a JSON object")
        if public_key is not None:
            key = load_public_key(public_key.read_text())
        else:
            from control_plane.config import load_settings
            from control_plane.crypto.keyring import load_key_ring

            settings = load_settings()
            keys = load_key_ring(
                settings.keys, settings.key_dir, is_development=settings.is_development
            )
            key = keys.receipt_public_key
    except (OSError, ValueError) as exc:
        typer.echo(f"INVALID: cannot read the receipt or key ({type(exc).__name__})", err=True)
        raise typer.Exit(1) from None
    problem = verify_receipt(receipt, key)
    if problem is not None:
        typer.echo(f"INVALID: {problem}")
        raise typer.Exit(1)
    typer.echo(
        f"OK: erasure {receipt.get('erasure_id')} of {receipt.get('subject')} completed at "
        f"{receipt.get('completed_at')}, data key destroyed, signed by key {receipt.get('key_id')}"
    )


@retention_app.command("run")
def retention_run() -> None:
    """Run one retention pass now (every class; safe next to running replicas)."""
    from control_plane.clock import utc_now
    from control_plane.config import load_settings
    from control_plane.privacy.retention import run_retention
    from control_plane.store.engine import create_engine
    from control_plane.store.migrate import upgrade_database

    settings = load_settings()

    async def main() -> dict[str, dict[str, int]]:
        if settings.is_development:
            await upgrade_database(settings.database_url)
        engine = create_engine(settings.database_url)
        try:
            report = await run_retention(engine, settings=settings.retention, now=utc_now())
        finally:
            await engine.dispose()
        return report.counts

    counts = asyncio.run(main())
    if not counts:
        typer.echo("retention: nothing due")
        return
    for retention_class, tables in sorted(counts.items()):
        for table, count in sorted(tables.items()):
            typer.echo(f"{retention_class:20} {table:28} {count:>8} purged")
