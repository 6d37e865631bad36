"""``kazi eval asr``: run recordings through the engine's split -> pre-draft -> stitch path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from engine.cli.app import eval_app

err = Console(stderr=True)


@eval_app.command("asr")
def eval_asr(
    audio: Annotated[
        list[Path],
        typer.Argument(help="Recordings to transcribe.", exists=True, dir_okay=False),
    ],
    refs: Annotated[
        Path | None,
        typer.Option(
            "--refs",
            help="TSV of file<TAB>reference; matched by path as given, else by file name.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write file<TAB>text per recording here.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object with the totals.")
    ] = False,
    max_segment_seconds: Annotated[
        float | None, typer.Option(help="Splitter maximum (default: KAZI_MAX_SEGMENT_SECONDS).")
    ] = None,
    overlap_seconds: Annotated[
        float | None,
        typer.Option(help="Segment overlap (default: KAZI_SEGMENT_OVERLAP_SECONDS)."),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Segments per batched decode; 1: sequential.")
    ] = None,
) -> None:
    """Transcribe AUDIO files as a transcription job would; print WER and CER with --refs."""
    from engine.asr.asr_settings import AsrSettings
    from engine.asr.recording_eval import evaluate_recordings, read_references, write_transcripts
    from engine.asr.whisper_drafter import AsrModelError, WhisperDrafter
    from engine.media.errors import MediaError
    from engine.settings import get_settings

    settings = get_settings()
    references = None
    if refs is not None:
        try:
            references = read_references(refs)
        except (OSError, ValueError) as exc:
            err.print(f"[red]error:[/red] cannot read references: {exc}")
            raise typer.Exit(2) from exc
    asr_settings = AsrSettings()
    if batch_size is not None:
        asr_settings = asr_settings.model_copy(update={"batch_size": batch_size})
    try:
        drafter = WhisperDrafter(asr_settings)
        report = evaluate_recordings(
            audio,
            drafter,
            references=references,
            max_segment_seconds=max_segment_seconds or settings.max_segment_seconds,
            overlap_seconds=(
                settings.segment_overlap_seconds if overlap_seconds is None else overlap_seconds
            ),
        )
    except (AsrModelError, MediaError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    if report.missing_references:
        err.print(
            "[red]error:[/red] no reference for "
            + ", ".join(report.missing_references)
            + f" in {refs}"
        )
        raise typer.Exit(2)
    if output is not None:
        write_transcripts(report.recordings, output)
    if as_json:
        typer.echo(json.dumps(report.to_json()))
        return
    for result in report.recordings:
        failed = f", {result.failed_segments} failed" if result.failed_segments else ""
        typer.echo(
            f"{result.path}\t{result.audio_seconds:.1f} s\t{len(result.drafts)} segments{failed}"
            f"\t{result.seconds:.1f} s"
        )
    summary = (
        f"{len(report.recordings)} recordings, {report.audio_seconds:.1f} s of audio in "
        f"{report.seconds:.1f} s ({report.speed:.1f}x real time)"
    )
    if report.wer is not None and report.cer is not None:
        summary += f", WER {100 * report.wer:.2f} %, CER {100 * report.cer:.2f} %"
    typer.echo(summary)
