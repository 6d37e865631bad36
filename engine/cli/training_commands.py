"""``kazi training``: the practice and qualification items new trainees answer in the app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli.app import CliFailure, ExitCode, app, examples

training_app = typer.Typer(
    help="Training items for new trainees (practice and qualification sets).",
    no_args_is_help=True,
)
app.add_typer(training_app, name="training")

SetOption = Annotated[str, typer.Option("--set", help="practice | qualification")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object")]


def _bad(message: str) -> CliFailure:
    return CliFailure(message, ExitCode.BAD_INPUT, "bad_input")


def _item_json(item: Any) -> dict[str, Any]:
    return {
        "id": item.id, "set": item.set_name.value, "position": item.position, "kind": item.kind,
        "source": item.source_name, "media_key": item.media_key,
        "lowres_media_key": item.lowres_media_key, "expected": item.expected,
        "labels": item.labels,
    }  # fmt: skip


def _add(kind: str, set_name: str, media: Path, expected: dict[str, Any], labels: list[str]) -> Any:
    """Check the item, store its media (no transaction open), then record it."""
    from engine.bootstrap import get_context
    from engine.training.media import TrainingMediaError, store_training_media
    from engine.training.service import NewTrainingItem, TrainingError, add_item, check_new_item

    try:
        job_kind, training_set, clean, clean_labels = check_new_item(
            kind, set_name, expected, labels
        )
    except TrainingError as exc:
        raise CliFailure.from_error(exc) from exc
    ctx = get_context()
    try:
        stored = store_training_media(ctx.store, job_kind, training_set, media)
    except TrainingMediaError as exc:
        raise _bad(str(exc)) from exc
    new = NewTrainingItem(
        job_kind, training_set, stored.media_key, stored.lowres_media_key, stored.source_name,
        clean, clean_labels,
    )  # fmt: skip
    return ctx.in_unit_of_work(add_item, new)


@training_app.command(
    "add",
    epilog=examples(
        'kazi training add --set practice --kind transcription --audio hello.wav --text "Habari"',
        "kazi training add --set qualification --kind image_classification --image cat.png "
        "--label cat --labels cat,dog,bird --json",
    ),
)
def training_add(
    set_name: SetOption,
    kind: Annotated[str, typer.Option(help="transcription | image_classification")] = (
        "transcription"
    ),
    audio: Annotated[Path | None, typer.Option(help="The clip (transcription)")] = None,
    text: Annotated[str | None, typer.Option(help="The expected transcript")] = None,
    image: Annotated[Path | None, typer.Option(help="The picture (image_classification)")] = None,
    label: Annotated[str | None, typer.Option(help="The expected label")] = None,
    labels: Annotated[
        str | None, typer.Option(help="The labels to choose from, comma-separated")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Add one training item; its expected answer is shown to trainees only after they answer."""
    if kind == "transcription":
        if audio is None or text is None:
            raise _bad("a transcription item needs --audio FILE and --text REFERENCE")
        item = _add(kind, set_name, audio, {"text": text}, [])
    elif kind == "image_classification":
        if image is None or label is None or labels is None:
            raise _bad("a classification item needs --image FILE, --label L and --labels a,b,c")
        item = _add(kind, set_name, image, {"label": label}, labels.split(","))
    else:
        raise _bad(f"--kind is transcription or image_classification, not {kind!r}")
    out = _item_json(item)
    if as_json:
        typer.echo(json.dumps(out))
    else:
        typer.echo(f"added {out['set']} item {out['id']} ({out['kind']}, {out['source']})")


def _pairs(folder: Path) -> tuple[list[tuple[Path, str]], list[str]]:
    """(audio, expected text) for every audio file with a same-name .txt; what was skipped."""
    from engine.training.media import AUDIO_SUFFIXES

    pairs: list[tuple[Path, str]] = []
    skipped: list[str] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in AUDIO_SUFFIXES:
            continue
        transcript = path.with_suffix(".txt")
        if not transcript.is_file():
            skipped.append(f"{path.name}: no {transcript.name}")
            continue
        try:
            text = " ".join(transcript.read_text(encoding="utf-8-sig").split())
        except UnicodeDecodeError:
            raise _bad(f"{transcript.name} is not UTF-8 text") from None
        if not text:
            skipped.append(f"{path.name}: {transcript.name} is empty")
            continue
        pairs.append((path, text))
    return pairs, skipped


@training_app.command(
    "import",
    epilog=examples(
        "kazi training import ./practice-clips --set practice",
        "kazi training import ./qualification --set qualification --json",
    ),
)
def training_import(
    folder: Annotated[Path, typer.Argument(help="A folder of audio clips with same-name .txt")],
    set_name: SetOption,
    as_json: JsonOption = False,
) -> None:
    """Add a transcription item for every clip in FOLDER that has a same-name .txt beside it."""
    from engine.training.media import TrainingMediaError, check_audio

    if not folder.is_dir():
        raise _bad(f"{folder} is not a folder")
    pairs, skipped = _pairs(folder)
    if not pairs:
        raise _bad(f"no audio clip with a same-name .txt in {folder}")
    for path, _ in pairs:  # every clip checked before any is stored: all or nothing
        try:
            check_audio(path)
        except TrainingMediaError as exc:
            raise _bad(str(exc)) from exc
    added = [
        _item_json(_add("transcription", set_name, path, {"text": text}, []))
        for path, text in pairs
    ]
    if as_json:
        typer.echo(json.dumps({"added": added, "skipped": skipped}))
        return
    for item in added:
        typer.echo(f"added {item['set']} item {item['id']} ({item['source']})")
    for reason in skipped:
        typer.echo(f"skipped {reason}")


@training_app.command(
    "list", epilog=examples("kazi training list", "kazi training list --set practice --json")
)
def training_list(
    set_name: Annotated[
        str | None, typer.Option("--set", help="Only this set: practice | qualification")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array")] = False,
) -> None:
    """List the training items with their expected answers (staff only: trainees never see this)."""
    from engine.bootstrap import get_context
    from engine.domain.training_path import TrainingSet
    from engine.training.service import list_items

    try:
        chosen = TrainingSet(set_name) if set_name is not None else None
    except ValueError:
        raise _bad(f"--set is practice or qualification, not {set_name!r}") from None
    rows = [_item_json(item) for item in get_context().in_unit_of_work(list_items, chosen)]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        typer.echo("no training items yet: add some with kazi training add or import")
    for row in rows:
        answer = row["expected"].get("text") or row["expected"].get("label")
        typer.echo(
            f"{row['id']:>5} {row['set']:<13} {row['position']:>3} {row['kind']:<20} {answer}"
        )


@training_app.command(
    "require",
    epilog=examples("kazi training require amina.k", "kazi training require amina.k --json"),
)
def training_require(
    handle: Annotated[str, typer.Argument(help="The worker's handle")],
    as_json: JsonOption = False,
) -> None:
    """Make a registered worker take training before paid work (new trainees get it already)."""
    from engine.bootstrap import get_context
    from engine.training.service import TrainingError, require_training_of

    try:
        stage = get_context().in_unit_of_work(require_training_of, handle)
    except TrainingError as exc:
        raise CliFailure.from_error(exc) from exc
    out = {"handle": handle, "training": stage.value}
    typer.echo(json.dumps(out) if as_json else f"{handle}: training {stage.value}")
