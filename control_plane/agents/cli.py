"""`control-plane agents`: run a worker supervisor on its own, list the fleet.

``agents run`` is the deployment where agent workers live apart from the API replicas:
the supervisor writes its slots to the shared store, workers report to the API at
``agents.internal_url``, and ``GET /v1/agents`` on any replica shows them.
"""

from __future__ import annotations

import asyncio
import signal

import typer

agents_app = typer.Typer(no_args_is_help=True, help="Voice agent workers and their supervisor.")


@agents_app.command("run")
def run(
    workers: int | None = typer.Option(None, min=1, max=32, help="Default: agents.workers."),
) -> None:
    """Supervise agent workers until SIGTERM or SIGINT, then drain them."""
    from control_plane.agents.supervisor import Supervisor
    from control_plane.clock import utc_now
    from control_plane.config import load_supervisor_settings
    from control_plane.crypto.keyring import load_worker_credential_key
    from control_plane.logs import configure_logging
    from control_plane.store.engine import create_engine
    from control_plane.store.migrate import upgrade_database

    # Only what a supervisor holds is asked for: the store, the worker-credential key and
    # the agents' key pair (deploy/k8s/agents.yaml), none of the API's other secrets.
    settings = load_supervisor_settings()
    count = workers or settings.agents.workers
    if count < 1:
        raise typer.BadParameter("no workers to run (set agents.workers or --workers)")
    agents = settings.agents.model_copy(update={"workers": count})
    settings = settings.model_copy(update={"agents": agents})
    configure_logging()
    credential_key = load_worker_credential_key(
        settings.keys, settings.key_dir, is_development=settings.is_development
    )

    async def main() -> None:
        if settings.is_development:
            await upgrade_database(settings.database_url)
        engine = create_engine(settings.database_url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        supervisor = Supervisor(
            engine=engine, credential_key=credential_key, settings=settings, clock=utc_now
        )
        try:
            await supervisor.start()
            typer.echo(f"supervising {count} worker(s) as {supervisor.supervisor_id}", err=True)
            await stop.wait()
        finally:
            await supervisor.stop()
            await engine.dispose()

    asyncio.run(main())


@agents_app.command("list")
def list_workers() -> None:
    """Print the fleet as the store knows it (no credentials)."""
    from control_plane.agents.fleet import list_fleet
    from control_plane.config import load_settings
    from control_plane.store.engine import create_engine
    from control_plane.store.uow import unit_of_work

    settings = load_settings()

    async def main() -> None:
        engine = create_engine(settings.database_url)
        try:
            async with unit_of_work(engine) as tx:
                rows = await list_fleet(tx)
        finally:
            await engine.dispose()
        typer.echo("worker                 status     pid      restarts  jobs  last heartbeat")
        for row in rows:
            beat = row.last_heartbeat_at.isoformat() if row.last_heartbeat_at else "-"
            typer.echo(
                f"{row.id:<22} {row.status:<10} {row.pid or '-'!s:<8} {row.restarts:<9} "
                f"{row.active_jobs:<5} {beat}"
            )

    asyncio.run(main())
