"""``kazi fetch JOB``: download a job's deliverables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from engine.cli.app import CliFailure, ExitCode, app, examples


@app.command(epilog=examples("kazi fetch JOB_ID", "kazi fetch JOB_ID --dir results/ --json"))
def fetch(
    job_id: Annotated[str, typer.Argument(help="Job id")],
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to put them (default: ./<job id>)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Download every deliverable of a delivered job."""
    from engine.assembly.service import deliverables_of
    from engine.bootstrap import get_context
    from engine.clients.service import ensure_client
    from engine.jobs.errors import JobNotFound

    ctx = get_context()
    client_id = ctx.in_unit_of_work(ensure_client, ctx.settings.local_client_name)
    try:
        # The link is the object key itself: the CLI reads the store directly.
        found = ctx.in_unit_of_work(deliverables_of, client_id, job_id, lambda key: key)
    except JobNotFound:
        raise CliFailure(f"no job {job_id}", ExitCode.NOT_FOUND, "job_not_found") from None
    rows = [(item.name, item.url, item.sha256) for item in found.items]
    stage = found.stage
    if not rows:
        raise CliFailure(
            f"job {job_id} has no deliverables yet (stage: {stage})",
            ExitCode.NOT_READY,
            "not_ready",
        )
    target = (directory or Path(job_id)).resolve()
    written = []
    for name, key, _sha in rows:
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        ctx.store.download_to(key, path)
        written.append(str(path))
    if as_json:
        typer.echo(
            json.dumps({"job_id": job_id, "stage": stage, "dir": str(target), "files": written})
        )
    else:
        for shown in written:
            typer.echo(shown)
