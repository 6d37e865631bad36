"""``kazi demo``: the whole journey of two real jobs on this machine (see engine/demo)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from engine.cli.app import CliFailure, ExitCode, app, examples


@app.command(
    epilog=examples("kazi demo", "kazi demo --data ../shared/data --seed 11", "kazi demo --json")
)
def demo(
    data: Annotated[
        Path | None,
        typer.Option(
            help="A data folder with speech/ (clips with references); default: the samples "
            "shipped with Kazi (engine/demo/samples)"
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulated workers")] = 7,
    as_json: Annotated[
        bool, typer.Option("--json", help="Also print a JSON summary (errors as JSON too)")
    ] = False,
) -> None:
    """Submit real recordings and images, pre-draft, publish (a real Label Studio holds the
    projects for staff), let simulated trainees train and answer in the worker app (/app), run
    consensus and QA review, assemble and fetch."""
    from engine.demo.run_demo import run_demo
    from engine.demo.samples_dir import SAMPLES_DIR

    data = data or SAMPLES_DIR
    if not (data / "speech").is_dir():
        raise CliFailure(
            f"no speech folder under {data} (pass --data)", ExitCode.BAD_INPUT, "bad_input"
        )
    summary = run_demo(data.resolve(), seed)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
