"""``kazi submit`` and ``kazi status``: batch scripts drive the engine through the service layer."""

from __future__ import annotations

import json
import sys
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console

from engine.bootstrap import EngineContext, get_context
from engine.cli.app import CliFailure, ExitCode, app, examples
from engine.cli.client_scope import ApiUrl, ClientKey
from engine.cli.embedded_worker import embedded_worker
from engine.cli.status_view import job_detail_for, render_status, task_table
from engine.clients.service import ensure_client
from engine.domain.job_stage import JobKind, JobStage, is_settled
from engine.errors import KaziError
from engine.jobs import service
from engine.jobs.intake import IncomingFile, submit_job
from schemas.jobs import JobDetail, JobSpec, TaskView

err = Console(stderr=True, soft_wrap=True)


def _bad_input(message: str) -> CliFailure:
    return CliFailure(message, ExitCode.BAD_INPUT, "bad_input")


def _labels_from(options: list[str] | None) -> list[str] | None:
    """``--labels cat,dog`` and ``--labels cat --labels dog`` alike; None when not given."""
    if not options:
        return None
    return [label.strip() for option in options for label in option.split(",") if label.strip()]


def _load_spec(kind: JobKind, spec_path: Path | None, labels: list[str] | None) -> JobSpec:
    raw: dict[str, Any] = {}
    if spec_path is not None:
        try:
            loaded = yaml.safe_load(spec_path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise _bad_input(f"cannot read spec {spec_path}: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise _bad_input(f"spec {spec_path} must be a mapping of fields")
        raw = dict(loaded or {})
    if "kind" in raw and raw["kind"] != kind.value:
        raise _bad_input(f"--kind {kind.value} contradicts kind {raw['kind']!r} in {spec_path}")
    raw["kind"] = kind.value
    if labels is not None:
        raw["labels"] = labels  # the command line wins over the spec file
    try:
        return JobSpec.model_validate(raw)
    except ValidationError as exc:
        lines = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}" for e in exc.errors()
        )
        raise _bad_input(f"invalid job spec: {lines}") from exc


def _task_json(task: TaskView) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": task.id,
        "kind": task.kind,
        "source": task.source_filename,
        "source_id": task.source,
        "seq": task.seq,
        "status": task.status,
    }
    if task.start is not None:
        item["start"], item["end"] = task.start, task.end
    if task.box is not None:
        item["box"] = task.box
    item["media_url"] = task.media_url
    return item


def _all_tasks(ctx: EngineContext, client_id: str, job_id: str) -> list[TaskView]:
    expiry = timedelta(seconds=ctx.settings.presign_expiry_seconds)
    tasks: list[TaskView] = []
    with ctx.uow() as uow:
        while True:
            page = service.list_tasks(
                uow,
                client_id,
                job_id,
                1000,
                len(tasks),
                media_url=lambda key: ctx.store.presigned_get_url(key, expiry),
            )
            tasks.extend(page.items)
            if not page.items or len(tasks) >= page.total:
                return tasks


def _detail(ctx: EngineContext, client_id: str, job_id: str) -> JobDetail:
    return ctx.in_unit_of_work(service.get_job_detail, client_id, job_id)


def _wait(ctx: EngineContext, client_id: str, job_id: str, show: bool, timeout: float) -> JobDetail:
    deadline = time.monotonic() + timeout
    console = Console(stderr=True)
    detail = _detail(ctx, client_id, job_id)
    with ExitStack() as stack:
        live = None
        if show:
            from rich.live import Live

            live = stack.enter_context(
                Live(render_status(detail), console=console, transient=False)
            )
        while not is_settled(detail.kind, JobStage(detail.stage)):
            if time.monotonic() > deadline:
                raise CliFailure(
                    f"job {job_id} still in stage {detail.stage} after {timeout:.0f} s",
                    ExitCode.TIMEOUT,
                    "timeout",
                )
            time.sleep(0.5)
            detail = _detail(ctx, client_id, job_id)
            if live is not None:
                live.update(render_status(detail))
    return detail


@app.command(
    epilog=examples(
        "kazi submit talk.wav --kind transcription --wait",
        "kazi submit a.jpg b.jpg --kind image_boxes --labels car,bus --json",
        "kazi submit *.png --kind image_classification --spec job.yaml --wait --timeout 600",
        "kazi submit talk.wav --kind transcription --spec paid.yaml --quote",
    )
)
def submit(
    files: Annotated[list[Path], typer.Argument(help="Audio or image files", exists=False)],
    kind: Annotated[JobKind, typer.Option("--kind", help="Job kind")],
    spec: Annotated[Path | None, typer.Option("--spec", help="Job spec (YAML or JSON)")] = None,
    labels: Annotated[
        list[str] | None,
        typer.Option(
            "--labels",
            metavar="<label,...>",
            help="Classes, comma-separated or repeated (replaces the spec's labels)",
        ),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the pipeline settles")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait at most")] = 3600.0,
    quote: Annotated[
        bool, typer.Option("--quote", help="Print what the job would cost; submit nothing")
    ] = False,
) -> None:
    """Submit FILES as one job."""
    job_spec = _load_spec(kind, spec, _labels_from(labels))
    for path in files:
        if not path.is_file():
            raise _bad_input(f"{path}: no such file")
    ctx = get_context()
    if quote:
        _print_quote(ctx, job_spec, files, as_json)
        return
    client_id = ctx.in_unit_of_work(ensure_client, ctx.settings.local_client_name)
    with ExitStack() as stack:
        streams = [stack.enter_context(path.open("rb")) for path in files]
        incoming = [IncomingFile(p.name, s) for p, s in zip(files, streams, strict=True)]
        try:
            job_id = submit_job(
                ctx.uow(),
                ctx.store,
                client_id=client_id,
                spec=job_spec,
                files=incoming,
                max_upload_bytes=ctx.settings.max_upload_bytes,
                max_files=ctx.settings.max_files_per_job,
            )
        except KaziError as exc:  # a JobError, or a 402 for a paid job
            raise CliFailure.from_error(exc) from exc
    if not as_json:
        err.print(f"submitted job [bold]{job_id}[/bold]")
    detail = _detail(ctx, client_id, job_id)
    if wait:
        with embedded_worker(ctx.settings):
            detail = _wait(ctx, client_id, job_id, show=not as_json, timeout=timeout)
    if as_json:
        out = {
            "id": detail.id,
            "status": detail.stage,
            "failure_reason": detail.failure_reason,
            "sources": [s.model_dump(mode="json") for s in detail.sources],
            "tasks": [_task_json(t) for t in _all_tasks(ctx, client_id, job_id)],
        }
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    elif wait:
        console = Console()
        console.print(task_table(_all_tasks(ctx, client_id, job_id)))
        console.print(f"job {job_id}: {detail.stage}")
    else:
        typer.echo(job_id)
    if detail.stage == JobStage.FAILED.value:
        if not as_json:
            err.print(f"[red]job failed:[/red] {detail.failure_reason}")
        raise typer.Exit(ExitCode.FAILED)


def _print_quote(ctx: EngineContext, spec: JobSpec, files: list[Path], as_json: bool) -> None:
    """The quote of a job over local files (measured here); nothing is stored."""
    from engine.billing.media_measure import measure_files
    from engine.billing.service import price, quote_view

    try:
        media = measure_files(files, spec.kind.media_type)
        view = quote_view(price(spec, media, ctx.settings))
    except KaziError as exc:
        raise CliFailure.from_error(exc) from exc
    if as_json:
        sys.stdout.write(view.model_dump_json(indent=2) + "\n")
        return
    from rich.table import Table

    table = Table(title=f"quote ({view.currency}); nothing was submitted")
    for column in ("line", "quantity", "amount"):
        table.add_column(column, justify="right" if column != "line" else "left")
    for line in view.lines:
        table.add_row(line.description, f"{line.quantity} {line.unit}", line.amount.text)
    table.add_row("[bold]total[/bold]", "", f"[bold]{view.total.text}[/bold]")
    console = Console()
    console.print(table)
    for assumption in view.assumptions:
        console.print(f"- {assumption}")


@app.command(
    epilog=examples(
        "kazi status JOB_ID",
        "kazi status JOB_ID --json | jq .stage",
        "kazi status JOB_ID --client $KAZI_API_KEY --api http://127.0.0.1:8000",
    )
)
def status(
    job_id: Annotated[str, typer.Argument(help="Job id")],
    client_key: ClientKey = None,
    api_url: ApiUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Show a job's stage and per-stage progress."""
    detail = job_detail_for(job_id, client_key, api_url)
    if as_json:
        sys.stdout.write(detail.model_dump_json(indent=2) + "\n")
    else:
        Console().print(render_status(detail))
