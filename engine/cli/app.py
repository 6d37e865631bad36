"""Typer applications that command modules attach to (see ``engine.cli.main``)."""

import typer

app = typer.Typer(
    help="Kazi: annotation and transcription task-processing engine.", no_args_is_help=True
)
eval_app = typer.Typer(
    help="Evaluate the engine's ASR and consensus on real data.", no_args_is_help=True
)
app.add_typer(eval_app, name="eval")
