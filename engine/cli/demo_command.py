"""``kazi demo``: the whole journey of two real jobs on this machine (see engine/demo)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from engine.cli.app import app


@app.command()
def demo(
    data: Annotated[
        Path | None,
        typer.Option(
            help="A data folder with speech/ (clips with references); default: the samples "
            "shipped with Kazi (engine/demo/samples)"
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulated workers")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Also print a JSON summary")] = False,
) -> None:
    """Submit real recordings and images, pre-draft, publish to a real Label Studio, let
    simulated trainees answer there, run consensus and QA review, assemble and fetch."""
    from engine.demo.run_demo import run_demo
    from engine.demo.samples_dir import SAMPLES_DIR

    data = data or SAMPLES_DIR
    if not (data / "speech").is_dir():
        typer.echo(f"error: no speech folder under {data} (pass --data)", err=True)
        raise typer.Exit(2)
    summary = run_demo(data.resolve(), seed)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
