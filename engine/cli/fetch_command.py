"""``kazi fetch JOB``: download a job's deliverables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from engine.cli.app import CliFailure, ExitCode, app, examples
from engine.cli.client_scope import ApiReader, ApiUrl, ClientKey, client_for_job


@app.command(
    epilog=examples(
        "kazi fetch JOB_ID",
        "kazi fetch JOB_ID --dir results/ --json",
        "kazi fetch JOB_ID --client $KAZI_API_KEY",
        "kazi fetch JOB_ID --client $KAZI_API_KEY --api http://127.0.0.1:8000",
    )
)
def fetch(
    job_id: Annotated[str, typer.Argument(help="Job id")],
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to put them (default: ./<job id>)")
    ] = None,
    client_key: ClientKey = None,
    api_url: ApiUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Download every deliverable of a delivered job."""
    target = (directory or Path(job_id)).resolve()
    if api_url is not None:
        written, stage = _fetch_from_api(job_id, api_url, client_key, target)
    else:
        written, stage = _fetch_from_database(job_id, client_key, target)
    if as_json:
        typer.echo(
            json.dumps({"job_id": job_id, "stage": stage, "dir": str(target), "files": written})
        )
    else:
        for shown in written:
            typer.echo(shown)


def _fetch_from_api(
    job_id: str, api_url: str, client_key: str | None, target: Path
) -> tuple[list[str], str]:
    with ApiReader(api_url, client_key) as api:
        found = api.deliverables(job_id)
        _check_ready(job_id, found.stage, len(found.items))
        written = []
        for item in found.items:
            path = _target_path(target, item.name)
            path.write_bytes(api.download(item.url))
            written.append(str(path))
    return written, found.stage


def _fetch_from_database(
    job_id: str, client_key: str | None, target: Path
) -> tuple[list[str], str]:
    from engine.assembly.service import deliverables_of
    from engine.bootstrap import get_context
    from engine.jobs.errors import JobNotFound

    ctx = get_context()
    client_id = client_for_job(ctx, job_id, client_key)
    try:
        # The link is the object key itself: the CLI reads the store directly.
        found = ctx.in_unit_of_work(deliverables_of, client_id, job_id, lambda key: key)
    except JobNotFound:
        raise CliFailure(f"no job {job_id}", ExitCode.NOT_FOUND, "job_not_found") from None
    _check_ready(job_id, found.stage, len(found.items))
    written = []
    for item in found.items:
        path = _target_path(target, item.name)
        ctx.store.download_to(item.url, path)
        written.append(str(path))
    return written, found.stage


def _check_ready(job_id: str, stage: str, count: int) -> None:
    if not count:
        raise CliFailure(
            f"job {job_id} has no deliverables yet (stage: {stage})",
            ExitCode.NOT_READY,
            "not_ready",
        )


def _target_path(target: Path, name: str) -> Path:
    path = (target / name).resolve()
    if not path.is_relative_to(target):  # a deliverable name never leaves the folder
        raise CliFailure(f"deliverable name {name!r} leaves {target}", ExitCode.FAILED, "bad_name")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
