"""``kazi status``: a job's detail, read as the client it is scoped to (see client_scope), and its
rich rendering, one bar per stage."""

from __future__ import annotations

from rich.console import Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from engine.cli.app import CliFailure
from engine.cli.client_scope import ApiReader, client_for_job
from schemas.jobs import JobDetail, TaskView


def job_detail_for(job_id: str, client_key: str | None, api_url: str | None) -> JobDetail:
    """The job's detail from the running API at ``api_url``, or from the database."""
    if api_url is not None:
        with ApiReader(api_url, client_key) as api:
            return api.job_detail(job_id)
    from engine.bootstrap import get_context
    from engine.jobs import service
    from engine.jobs.errors import JobError

    ctx = get_context()
    client_id = client_for_job(ctx, job_id, client_key)
    try:
        return ctx.in_unit_of_work(service.get_job_detail, client_id, job_id)
    except JobError as exc:
        raise CliFailure.from_error(exc) from exc


def render_status(detail: JobDetail) -> Group:
    header = Text.assemble(
        ("job ", "dim"),
        (detail.id, "bold"),
        ("  kind ", "dim"),
        detail.kind.value,
        ("  stage ", "dim"),
        (detail.stage, "bold red" if detail.stage == "failed" else "bold green"),
    )
    bars = Progress(
        TextColumn("{task.description:>14}"),
        BarColumn(bar_width=40),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
    )
    sources = detail.sources
    done = sum(1 for s in sources if s.status in {"split", "failed"})
    failed = sum(1 for s in sources if s.status == "failed")
    bars.add_task(
        "split",
        total=max(len(sources), 1),
        completed=done,
        note=f"[red]{failed} failed[/red]" if failed else "",
    )
    total = detail.tasks_total
    if total:
        for status_name, count in sorted(detail.task_counts.items()):
            bars.add_task(f"tasks {status_name}", total=total, completed=count, note="")
    parts: list[object] = [header, bars]
    if detail.failure_reason:
        parts.append(Text(f"reason: {detail.failure_reason}", style="red"))
    for source in sources:
        if source.failure_reason and detail.stage != "failed":
            parts.append(Text(f"{source.filename}: {source.failure_reason}", style="yellow"))
    return Group(*parts)  # type: ignore[arg-type]


def task_table(tasks: list[TaskView], limit: int = 50) -> Table:
    table = Table(title=f"{len(tasks)} microtasks", show_lines=False)
    for column in ("#", "source", "kind", "span", "status"):
        table.add_column(column)
    for task in tasks[:limit]:
        if task.start is not None:
            span = f"{task.start:7.2f} – {task.end:7.2f} s"
        else:
            span = "box " + ",".join(map(str, task.box or []))
        table.add_row(str(task.seq), task.source_filename, task.kind, span, task.status)
    if len(tasks) > limit:
        table.caption = f"… and {len(tasks) - limit} more"
    return table
