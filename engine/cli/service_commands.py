"""``kazi serve``, ``up``, ``worker``, ``db`` and ``clients``: run and administer the engine."""

from __future__ import annotations

import os
import subprocess
from typing import Annotated

import typer

from engine.cli.app import app
from engine.settings import get_settings

clients_app = typer.Typer(help="Manage client tenants and API keys.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(clients_app, name="clients")
app.add_typer(db_app, name="db")


def _refuse_weak_secrets() -> None:
    """Exit with the reason when a production setup lacks strong secrets (engine/secrets.py);
    embedded mode makes its own here, before any process that needs them starts."""
    from engine.secrets import InsecureSecrets, resolve_secrets

    try:
        resolve_secrets(get_settings())
    except InsecureSecrets as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    workers: Annotated[int, typer.Option(help="Uvicorn worker processes")] = 1,
) -> None:
    """Run the HTTP API (OpenAPI at /docs). Jobs need a worker too: see `kazi up`."""
    _refuse_weak_secrets()
    host, port = _listen_address(host, port)
    _run_api(host, port, workers, with_worker=False)


def _run_api(host: str, port: int, workers: int, *, with_worker: bool) -> None:
    import uvicorn

    from engine.api.http_protocol import NoDelayHttpProtocol

    settings = get_settings()
    typer.echo(f"links handed out point to {settings.public_url} (KAZI_PUBLIC_URL)")
    if settings.resolved_broker_url().startswith("filesystem://") and not with_worker:
        typer.echo(
            "note: the API alone processes no job; `kazi up` runs it with a worker", err=True
        )
    uvicorn.run(
        "engine.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=NoDelayHttpProtocol,
    )


def _listen_address(host: str | None, port: int | None) -> tuple[str, int]:
    """The address to listen on; unless KAZI_PUBLIC_URL is set, the public URL becomes that
    address, for this process and every process it starts (they read the environment)."""
    from engine.settings import listen_public_url

    settings = get_settings()
    host = host or settings.api_host
    port = port or settings.api_port
    public_url = listen_public_url(settings, host, port)
    if public_url != settings.public_url:
        os.environ["KAZI_PUBLIC_URL"] = public_url
        get_settings.cache_clear()
    return host, port


@app.command()
def up(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Worker processes")] = None,
    loglevel: Annotated[str, typer.Option(help="Worker log level")] = "INFO",
) -> None:
    """Run all of Kazi on this machine: the API, a worker on every queue and the periodic
    housekeeping (beat). `kazi serve` alone runs the API only: nothing processes its jobs."""
    from engine.cli.embedded_worker import worker_command
    from engine.pipeline.celery_config import ALL_QUEUES as QUEUES

    _refuse_weak_secrets()
    _check_asr_model()
    host, port = _listen_address(host, port)
    settings = get_settings()
    cmd = worker_command(list(QUEUES), concurrency or settings.worker_concurrency, loglevel, True)
    log_path = settings.var_dir / "worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ},
                                start_new_session=True)  # fmt: skip
    typer.echo(f"worker with beat on {', '.join(QUEUES)} (pid {proc.pid}, log {log_path})")
    try:
        _run_api(host, port, 1, with_worker=True)
    finally:
        typer.echo("stopping the worker (a running task finishes first) ...")
        _stop_process_group(proc)


def _stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    import signal

    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)  # warm shutdown
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _check_asr_model() -> None:
    """A bad model path is reported now, not on the first task."""
    from engine.asr.asr_settings import AsrSettings
    from engine.asr.whisper_drafter import AsrModelError, check_model

    try:
        check_model(AsrSettings())
    except AsrModelError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


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
    _refuse_weak_secrets()
    if "asr" in names:
        _check_asr_model()
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
