"""`control-plane audit`: verify the chain, write a checkpoint, export OCSF for a SIEM."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO, TypeVar

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from control_plane.audit.verify import VerifyReport
    from control_plane.config import Settings
    from control_plane.crypto.keyring import KeyRing

audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit log.")
T = TypeVar("T")


class ExportFormat(StrEnum):
    OCSF = "ocsf"


def _load() -> tuple[Settings, KeyRing]:
    from control_plane.config import load_settings
    from control_plane.crypto.keyring import load_key_ring

    settings = load_settings()
    keys = load_key_ring(settings.keys, settings.key_dir, is_development=settings.is_development)
    return settings, keys


@asynccontextmanager
async def _engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    from control_plane.store.engine import create_engine
    from control_plane.store.migrate import upgrade_database

    if settings.is_development:
        await upgrade_database(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


def _run(work: Callable[[Settings, KeyRing, AsyncEngine], Awaitable[T]]) -> T:
    settings, keys = _load()

    async def main() -> T:
        async with _engine(settings) as engine:
            return await work(settings, keys, engine)

    return asyncio.run(main())


def render_report(report: VerifyReport) -> list[str]:
    """The verify report as lines; failures start with FAIL and name the record."""
    span = f"seq {report.first_seq}..{report.head_seq}" if report.first_seq is not None else "empty"
    lines = [
        f"audit chain: {report.records_checked} records checked ({span}, start: "
        f"{report.anchor}), {report.checkpoints_checked} checkpoints"
    ]
    if report.chain_break is not None:
        lines.append(f"FAIL: record {report.chain_break.seq}: {report.chain_break.reason}")
    if report.checkpoint_problem is not None:
        problem = report.checkpoint_problem
        lines.append(
            f"FAIL: checkpoint {problem.checkpoint_id} (head {problem.head_seq}): {problem.reason}"
        )
    if report.is_intact:
        lines.append("OK: every record links and hashes; every checkpoint signature verifies")
    return lines


@audit_app.command("verify")
def verify() -> None:
    """Check every link, hash and checkpoint signature; exit 1 naming the first bad record."""
    from control_plane.audit.verify import verify_audit
    from control_plane.store.uow import unit_of_work

    async def work(_: Settings, keys: KeyRing, engine: AsyncEngine) -> VerifyReport:
        async with unit_of_work(engine) as tx:
            return await verify_audit(tx, public_key=keys.audit_public_key)

    report = _run(work)
    for line in render_report(report):
        typer.echo(line)
    if not report.is_intact:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def checkpoint() -> None:
    """Sign the current chain (Ed25519) now; refuses (exit 1) if the chain does not verify."""
    from control_plane.audit.service import AuditChainBroken, write_checkpoint
    from control_plane.clock import utc_now
    from control_plane.store.uow import unit_of_work

    async def work(_: Settings, keys: KeyRing, engine: AsyncEngine) -> str:
        async with unit_of_work(engine) as tx:
            written = await write_checkpoint(tx, key=keys.audit_signing_key, now=utc_now())
        if written is None:
            return "nothing to sign: the chain is empty or unchanged since the last checkpoint"
        return (
            f"checkpoint {written.id}: records {written.first_seq}..{written.head_seq} "
            f"signed by key {written.key_id}"
        )

    try:
        typer.echo(_run(work))
    except AuditChainBroken as exc:
        typer.echo(f"FAIL: refusing to sign: {exc.message}", err=True)
        raise typer.Exit(1) from None


@audit_app.command("export")
def export(
    fmt: Annotated[ExportFormat, typer.Option("--format", help="Output format.")] = (
        ExportFormat.OCSF
    ),
    after: Annotated[int, typer.Option("--after", min=0, help="Records with seq > AFTER.")] = 0,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1_000_000, help="At most N.")] = (
        100_000
    ),
    out: Annotated[Path | None, typer.Option("--out", help="Write to FILE, not stdout.")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="One tenant only.")] = None,
) -> None:
    """Write OCSF JSON lines and an end marker; print the resume cursor to stderr."""
    from control_plane import __version__
    from control_plane.audit.export import ExportProgress, stream_ocsf_export
    from control_plane.audit.types import AuditScope
    from control_plane.clock import utc_now

    scope = AuditScope(tenants=frozenset({tenant})) if tenant else AuditScope(everything=True)
    progress = ExportProgress(after_seq=after, last_seq=after)

    async def write_all(engine: AsyncEngine, sink: TextIO) -> None:
        async for line in stream_ocsf_export(
            engine,
            scope=scope,
            after_seq=after,
            limit=limit,
            product_version=__version__,
            clock=utc_now,
            progress=progress,
        ):
            sink.write(line)

    async def work(_: Settings, __: KeyRing, engine: AsyncEngine) -> None:
        if out is None:
            await write_all(engine, sys.stdout)
            sys.stdout.flush()
            return
        partial = out.with_name(out.name + ".partial")
        with partial.open("w", encoding="utf-8") as sink:
            await write_all(engine, sink)
        partial.replace(out)  # a bundle appears complete or not at all

    _ = fmt  # one format today; the option keeps the command line stable
    _run(work)
    typer.echo(
        f"exported {progress.count} records; last_seq={progress.last_seq}; "
        f"has_more={'true' if progress.has_more else 'false'}; "
        f"resume with --after {progress.last_seq}",
        err=True,
    )
