"""Rich rendering of a job's progress, one bar per stage."""

from __future__ import annotations

from rich.console import Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from schemas.jobs import JobDetail, TaskView


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
