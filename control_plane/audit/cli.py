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

from control_plane.audit.types import MAX_SEQ

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
        f"{report.anchor}), {report.checkpoints_checked} checkpoints, "
        f"{report.witnessed_checked} witnessed"
    ]
    if report.chain_break is not None:
        lines.append(f"FAIL: record {report.chain_break.seq}: {report.chain_break.reason}")
    if report.checkpoint_problem is not None:
        problem = report.checkpoint_problem
        lines.append(
            f"FAIL: checkpoint {problem.checkpoint_id} (head {problem.head_seq}): {problem.reason}"
        )
    if report.witness_problem is not None:
        witnessed = report.witness_problem
        which = f"checkpoint {witnessed.checkpoint_id}" if witnessed.checkpoint_id else "file"
        lines.append(f"FAIL: witness {which} (line {witnessed.line}): {witnessed.reason}")
    if report.is_intact:
        lines.append("OK: every record links and hashes; every checkpoint signature verifies")
    return lines


@audit_app.command("verify")
def verify() -> None:
    """Check every link, hash and checkpoint signature; exit 1 naming the first bad record."""
    from control_plane.audit.witness import verify_witnessed

    async def work(settings: Settings, keys: KeyRing, engine: AsyncEngine) -> VerifyReport:
        return await verify_witnessed(
            engine, public_keys=keys.audit_verification_keys, witness_file=settings.witness_file
        )

    report = _run(work)
    for line in render_report(report):
        typer.echo(line)
    if not report.is_intact:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def checkpoint() -> None:
    """Sign the current chain (Ed25519) now; refuses (exit 1) if the chain does not verify."""
    from control_plane.audit.jobs import witness
    from control_plane.audit.service import AuditChainBroken, write_checkpoint
    from control_plane.clock import utc_now
    from control_plane.store.uow import unit_of_work

    async def work(settings: Settings, keys: KeyRing, engine: AsyncEngine) -> str:
        async with unit_of_work(engine) as tx:
            written = await write_checkpoint(tx, key=keys.audit_signing_key, now=utc_now())
        if written is None:
            return "nothing to sign: the chain is empty or unchanged since the last checkpoint"
        await witness(settings.witness_file, written)
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
    after: Annotated[
        int, typer.Option("--after", min=0, max=MAX_SEQ, help="Records with seq > AFTER.")
    ] = 0,
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


def rotate_audit_key() -> None:
    """Embedded mode: sign the chain with the current audit key, then replace the key.

    The retired key's public half is appended to ``audit_signing_key.previous``, so the
    checkpoints it signed keep verifying; restart the server to sign with the new key.
    With keys in settings (production), rotate by settings: run ``control-plane audit
    checkpoint``, add ``control-plane keys audit-public-key``'s output to
    ``keys.previous_audit_public_keys``, then set the new ``keys.audit_signing_key``.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    from control_plane.audit.jobs import witness
    from control_plane.audit.service import AuditChainBroken, append_audit, write_checkpoint
    from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
    from control_plane.clock import utc_now
    from control_plane.crypto.keyring import (
        PREVIOUS_AUDIT_KEYS_FILE,
        install_key_files,
        public_key_id,
        public_key_text,
    )
    from control_plane.store.uow import unit_of_work

    settings, keys = _load()
    if settings.keys.audit_signing_key is not None:
        typer.echo(
            "error: keys.audit_signing_key is set in settings; rotate by settings (see --help)",
            err=True,
        )
        raise typer.Exit(2)
    old_id = public_key_id(keys.audit_public_key)
    new_key = Ed25519PrivateKey.generate()
    new_id = public_key_id(new_key.public_key())

    async def main() -> int | None:
        async with _engine(settings) as engine:
            async with unit_of_work(engine) as tx:
                written = await write_checkpoint(tx, key=keys.audit_signing_key, now=utc_now())
            if written is not None:
                await witness(settings.witness_file, written)
            retired = [public_key_text(k) for k in keys.previous_audit_public_keys]
            install_key_files(
                settings.key_dir,
                {
                    PREVIOUS_AUDIT_KEYS_FILE: "".join(
                        f"{line}\n" for line in [*retired, public_key_text(keys.audit_public_key)]
                    ),
                    "audit_signing_key": new_key.private_bytes(
                        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
                    ).hex()
                    + "\n",
                },
            )
            async with unit_of_work(engine) as tx:
                await append_audit(
                    tx,
                    event=AuditEvent(
                        type=AuditEventType.KEY_ROTATED,
                        outcome=Outcome.SUCCESS,
                        actor="operator:cli",
                        target=f"audit_signing_key:{new_id}",
                        reason="audit signing key replaced; the retired key stays trusted "
                        "for the checkpoints it signed",
                        details={
                            "key": "audit_signing_key",
                            "key_id": new_id,
                            "previous_key_id": old_id,
                            "checkpoint_id": written.id if written is not None else None,
                        },
                    ),
                    now=utc_now(),
                )
            return written.id if written is not None else None

    try:
        checkpoint_id = asyncio.run(main())
    except AuditChainBroken as exc:
        typer.echo(f"FAIL: refusing to rotate: {exc.message}", err=True)
        raise typer.Exit(1) from None
    signed = f"checkpoint {checkpoint_id}" if checkpoint_id is not None else "the last checkpoint"
    typer.echo(
        f"audit signing key {new_id} installed; {old_id} retired ({signed} is its last, "
        f"its public key kept in {PREVIOUS_AUDIT_KEYS_FILE}); restart the server"
    )


def audit_public_key() -> None:
    """Print the current audit signing key's public key (hex) and id, e.g. to add it to
    ``keys.previous_audit_public_keys`` before replacing the key."""
    from control_plane.crypto.keyring import public_key_id, public_key_text

    _, keys = _load()
    typer.echo(f"{public_key_text(keys.audit_public_key)} {public_key_id(keys.audit_public_key)}")
