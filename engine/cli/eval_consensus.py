"""``kazi eval text-consensus`` and ``kazi eval categorical``: consensus on real crowd data."""

import csv
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Literal

import typer

from engine.cli.app import eval_app
from engine.datasets import DatasetFormatError
from engine.datasets.crowdspeech import read_crowd_answers, read_ground_truth
from engine.datasets.truth_inference import read_answers, read_truth
from engine.domain.dawid_skene import accuracy, dawid_skene, majority_vote
from engine.domain.rover_vote import aggregate_texts
from engine.domain.scoring import corpus_word_error_rate, mean_utterance_wer


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _emit(fields: dict[str, float | int | str], as_json: bool, labels: dict[str, str]) -> None:
    if as_json:
        typer.echo(json.dumps(fields))
        return
    width = max(len(label) for label in labels.values())
    for key, label in labels.items():
        value = fields[key]
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        typer.echo(f"{label:<{width}}  {shown}")


@eval_app.command("text-consensus")
def text_consensus(
    answers: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="CrowdSpeech crowd TSV.")
    ],
    truth: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Ground truth: audio<TAB>text, no header."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="Write 'audio<TAB>transcription' (with that header)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Text consensus (weighted ROVER with worker-skill estimation) on crowd transcriptions.

    With --truth: mean per-utterance WER (CrowdSpeech authors' normalisation, their metric),
    corpus WER (engine normalisation), utterances scored, and consensus seconds (excluding
    file reading).
    """
    try:
        crowd = read_crowd_answers(answers)
        references = read_ground_truth(truth) if truth is not None else None
    except DatasetFormatError as error:
        raise _fail(str(error)) from error

    started = time.perf_counter()
    aggregation = aggregate_texts(crowd)
    seconds = time.perf_counter() - started
    texts = {task: result.text for task, result in aggregation.consensus.items()}

    if output is not None:
        with output.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(["audio", "transcription"])
            writer.writerows(sorted(texts.items()))

    fields: dict[str, float | int | str] = {"utterances": len(texts), "seconds": round(seconds, 3)}
    labels = {"utterances": "utterances", "seconds": "seconds"}
    if references is not None:
        scored = [(references[t], texts[t]) for t in sorted(texts) if t in references]
        missing = len(references) - len(scored)
        if not scored:
            raise _fail("no utterance of --answers has a ground truth in --truth")
        if missing:
            print(f"warning: {missing} ground-truth utterance(s) have no answers", file=sys.stderr)
        fields = {
            "mean_utterance_wer": mean_utterance_wer(scored),
            "corpus_wer": corpus_word_error_rate(scored),
            "utterances": len(scored),
            "seconds": round(seconds, 3),
        }
        labels = {
            "mean_utterance_wer": "mean utterance WER (CrowdSpeech normalisation)",
            "corpus_wer": "corpus WER (engine normalisation)",
            **labels,
        }
    _emit(fields, as_json, labels)


@eval_app.command("categorical")
def categorical(
    answers: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="CSV: question,worker,answer.")
    ],
    truth: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="CSV: question,truth.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option(dir_okay=False, help="Write CSV 'question,label'.")
    ] = None,
    method: Annotated[str, typer.Option(help="dawid-skene or majority-vote.")] = "dawid-skene",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Categorical consensus (Dawid–Skene EM by default) on crowd labels.

    With --truth: accuracy on the questions that have truth, questions aggregated, seconds.
    """
    if method not in ("dawid-skene", "majority-vote"):
        raise _fail(f"unknown --method {method!r} (dawid-skene or majority-vote)")
    chosen: Literal["dawid-skene", "majority-vote"] = method  # type: ignore[assignment]
    try:
        crowd = read_answers(answers)
        known = read_truth(truth) if truth is not None else None
    except DatasetFormatError as error:
        raise _fail(str(error)) from error

    started = time.perf_counter()
    result = dawid_skene(crowd) if chosen == "dawid-skene" else majority_vote(crowd)
    seconds = time.perf_counter() - started

    if output is not None:
        with output.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["question", "label"])
            writer.writerows(result.labels.items())

    fields: dict[str, float | int | str] = {
        "questions": len(result.labels),
        "seconds": round(seconds, 4),
    }
    labels = {"questions": "questions", "seconds": "seconds"}
    if known is not None:
        if not known:
            raise _fail("--truth has no rows")
        fields = {
            "accuracy": accuracy(result.labels, known),
            "questions_with_truth": len(known),
            **fields,
        }
        labels = {"accuracy": "accuracy", "questions_with_truth": "questions with truth", **labels}
    _emit(fields, as_json, labels)
