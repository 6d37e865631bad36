"""``kazi serve``, ``worker``, ``db`` and ``clients``: run and administer the engine."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from engine.cli.app import app
from engine.settings import get_settings

clients_app = typer.Typer(help="Manage client tenants and API keys.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(clients_app, name="clients")
app.add_typer(db_app, name="db")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    workers: Annotated[int, typer.Option(help="Uvicorn worker processes")] = 1,
) -> None:
    """Run the HTTP API (OpenAPI at /docs)."""
    import uvicorn

    from engine.api.http_protocol import NoDelayHttpProtocol

    settings = get_settings()
    uvicorn.run(
        "engine.api.app:create_app",
        factory=True,
        host=host or settings.api_host,
        port=port or settings.api_port,
        workers=workers,
        http=NoDelayHttpProtocol,
    )


@app.command()
def worker(
    queues: Annotated[
        str, typer.Option(help="Comma-separated queues")
    ] = "ingest,asr,publish,score,assemble,pipeline",
    concurrency: Annotated[int | None, typer.Option(help="Processes; default one per core")] = None,
    loglevel: Annotated[str, typer.Option(help="Log level")] = "INFO",
    beat: Annotated[bool, typer.Option("--beat", help="Also run periodic housekeeping")] = False,
    supervise: Annotated[
        bool, typer.Option(help="Restart the worker when it exits on its own (broker failures)")
    ] = True,
) -> None:
    """Run a Celery worker on the given queues (restarted if it dies on its own)."""
    from engine.cli.embedded_worker import worker_command
    from engine.pipeline.celery_config import ALL_QUEUES as QUEUES

    names = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = sorted(set(names) - set(QUEUES))
    if unknown:
        raise typer.BadParameter(f"unknown queue(s) {unknown}; known: {', '.join(QUEUES)}")
    if "asr" in names:
        # A bad model path is reported now, not on the first task.
        from engine.asr.asr_settings import AsrSettings
        from engine.asr.whisper_drafter import AsrModelError, check_model

        try:
            check_model(AsrSettings())
        except AsrModelError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
    cmd = worker_command(names, concurrency or get_settings().worker_concurrency, loglevel, beat)
    if not supervise:
        os.execv(cmd[0], cmd)
    from engine.cli.supervise import supervise as run_supervised

    raise typer.Exit(run_supervised(cmd))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply Alembic migrations to the configured database."""
    from engine.db.migrate import upgrade_database

    upgrade_database(get_settings().resolved_database_url())
    typer.echo("database is at the latest schema")


@clients_app.command("create")
def clients_create(name: Annotated[str, typer.Argument(help="Client name")]) -> None:
    """Create a client and print its first API key (shown once)."""
    from engine.bootstrap import get_context
    from engine.clients.service import ClientExists, create_client

    ctx = get_context()
    try:
        created = ctx.in_unit_of_work(create_client, name)
    except ClientExists as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"client {created.client_id}\napi key {created.api_key}")
