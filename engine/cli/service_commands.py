"""``kazi serve``, ``up``, ``worker``, ``db`` and ``clients``: run and administer the engine."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
from typing import Annotated

import typer

from engine.cli.app import CliFailure, ExitCode, app, examples
from engine.settings import get_settings

clients_app = typer.Typer(help="Manage client tenants and API keys.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(clients_app, name="clients")
app.add_typer(db_app, name="db")


JSON_OPTION = typer.Option("--json", help="Print what starts, and any error, as JSON")


def _bad_input(message: str, code: str = "bad_input") -> CliFailure:
    return CliFailure(message, ExitCode.BAD_INPUT, code)


def _refuse_weak_secrets() -> None:
    """Fail with the reason when a production setup lacks strong secrets (engine/secrets.py);
    embedded mode makes its own here, before any process that needs them starts."""
    from engine.secrets import InsecureSecrets, resolve_secrets

    try:
        resolve_secrets(get_settings())
    except InsecureSecrets as exc:
        raise _bad_input(exc.message, "insecure_secrets") from exc


def _check_count(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise _bad_input(f"{name} must be at least 1 (got {value})")


def _check_listen_address(host: str, port: int) -> None:
    """A port out of range or already taken is reported before anything starts."""
    if not 1 <= port <= 65535:
        raise _bad_input(f"--port must be between 1 and 65535 (got {port})")
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise _bad_input(f"cannot listen on {host!r}: {exc}") from exc
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            # Taken or not this machine's address; a privileged port is left to uvicorn.
            if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                raise _bad_input(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


def _say(as_json: bool, event: str, message: str, **fields: object) -> None:
    """A progress line: text on stderr, or one JSON object per line on stdout with --json."""
    if as_json:
        typer.echo(json.dumps({"event": event, "message": message, **fields}))
    else:
        typer.echo(message, err=True)


@app.command(
    epilog=examples(
        "kazi serve",
        "kazi serve --host 0.0.0.0 --port 8000 --workers 4",
        "kazi serve --port 18100 --json",
    )
)
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    workers: Annotated[int, typer.Option(help="Uvicorn worker processes")] = 1,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Run the HTTP API (OpenAPI at /docs). Jobs need a worker too: see `kazi up`."""
    _check_count("--workers", workers)
    host, port = _listen_address(host, port)
    _refuse_weak_secrets()
    _run_api(host, port, workers, with_worker=False, as_json=as_json)


def _run_api(host: str, port: int, workers: int, *, with_worker: bool, as_json: bool) -> None:
    import uvicorn

    from engine.api.http_protocol import NoDelayHttpProtocol

    settings = get_settings()
    _say(as_json, "api", f"links handed out point to {settings.public_url} (KAZI_PUBLIC_URL)",
         host=host, port=port, public_url=settings.public_url)  # fmt: skip
    if settings.resolved_broker_url().startswith("filesystem://") and not with_worker:
        _say(as_json, "note", "note: the API alone processes no job; `kazi up` runs it with a "
             "worker")  # fmt: skip
    uvicorn.run(
        "engine.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=NoDelayHttpProtocol,
    )


def _listen_address(host: str | None, port: int | None) -> tuple[str, int]:
    """The address to listen on (checked: in range and free); unless KAZI_PUBLIC_URL is set, the
    public URL becomes that address, for this process and every process it starts (they read
    the environment)."""
    from engine.settings import listen_public_url

    settings = get_settings()
    host = host or settings.api_host
    port = settings.api_port if port is None else port
    _check_listen_address(host, port)
    public_url = listen_public_url(settings, host, port)
    if public_url != settings.public_url:
        os.environ["KAZI_PUBLIC_URL"] = public_url
        get_settings.cache_clear()
    return host, port


@app.command(epilog=examples("kazi up", "kazi up --port 18100 --concurrency 2", "kazi up --json"))
def up(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Worker processes")] = None,
    loglevel: Annotated[str, typer.Option(help="Worker log level")] = "INFO",
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Run all of Kazi on this machine: the API, a worker on every queue and the periodic
    housekeeping (beat). `kazi serve` alone runs the API only: nothing processes its jobs."""
    from engine.cli.embedded_worker import worker_command
    from engine.pipeline.celery_config import ALL_QUEUES as QUEUES

    _check_count("--concurrency", concurrency)
    host, port = _listen_address(host, port)
    _refuse_weak_secrets()
    _check_asr_model()
    settings = get_settings()
    cmd = worker_command(list(QUEUES), concurrency or settings.worker_concurrency, loglevel, True)
    log_path = settings.var_dir / "worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ},
                                start_new_session=True)  # fmt: skip
    _say(as_json, "worker", f"worker with beat on {', '.join(QUEUES)} (pid {proc.pid}, log "
         f"{log_path})", pid=proc.pid, queues=list(QUEUES), log=str(log_path))  # fmt: skip
    try:
        _run_api(host, port, 1, with_worker=True, as_json=as_json)
    finally:
        _say(as_json, "stopping", "stopping the worker (a running task finishes first) ...")
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
        raise _bad_input(str(exc), "asr_model_unusable") from exc


@app.command(
    epilog=examples(
        "kazi worker",
        "kazi worker --queues ingest,asr --concurrency 2",
        "kazi worker --queues publish,score,assemble,pipeline --beat --json",
    )
)
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
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Run a Celery worker on the given queues (restarted if it dies on its own)."""
    from engine.cli.embedded_worker import worker_command
    from engine.pipeline.celery_config import ALL_QUEUES as QUEUES

    names = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = sorted(set(names) - set(QUEUES))
    if unknown or not names:
        raise _bad_input(f"unknown queue(s) {unknown or queues!r}; known: {', '.join(QUEUES)}")
    _check_count("--concurrency", concurrency)
    _refuse_weak_secrets()
    if "asr" in names:
        _check_asr_model()
    cmd = worker_command(names, concurrency or get_settings().worker_concurrency, loglevel, beat)
    _say(as_json, "worker", f"worker on {', '.join(names)}", queues=names, beat=beat)
    if not supervise:
        os.execv(cmd[0], cmd)
    from engine.cli.supervise import supervise as run_supervised

    exit_code = run_supervised(cmd)
    if exit_code:
        raise CliFailure(f"the worker exited with code {exit_code}", ExitCode.FAILED,
                         "worker_exited")  # fmt: skip
    _say(as_json, "stopped", "worker stopped")


@db_app.command("upgrade", epilog=examples("kazi db upgrade", "kazi db upgrade --json"))
def db_upgrade(as_json: Annotated[bool, JSON_OPTION] = False) -> None:
    """Apply Alembic migrations to the configured database."""
    from engine.db.migrate import upgrade_database

    upgrade_database(get_settings().resolved_database_url())
    message = "database is at the latest schema"
    typer.echo(json.dumps({"status": "upgraded", "message": message}) if as_json else message)


@clients_app.command(
    "create", epilog=examples("kazi clients create acme", "kazi clients create acme --json")
)
def clients_create(
    name: Annotated[str, typer.Argument(help="Client name")],
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Create a client and print its first API key (shown once)."""
    from engine.bootstrap import get_context
    from engine.clients.service import ClientExists, create_client

    ctx = get_context()
    try:
        created = ctx.in_unit_of_work(create_client, name)
    except ClientExists as exc:
        raise CliFailure(str(exc), ExitCode.BAD_INPUT, "client_exists") from exc
    if as_json:
        typer.echo(json.dumps({"client_id": created.client_id, "api_key": created.api_key}))
    else:
        typer.echo(f"client {created.client_id}\napi key {created.api_key}")
