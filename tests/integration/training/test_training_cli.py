"""``kazi training add / import / list / require`` and ``kazi workers add`` enrolling new
trainees, in process, on the training suite's own SQLite database and local store."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engine.cli.app import ExitCode
from engine.cli.main import app
from tests.integration.training.conftest import tone_wav
from tests.media_samples import png_bytes

runner = CliRunner()


@pytest.fixture
def kazi(training_ctx: Any, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import engine.bootstrap

    monkeypatch.setattr(engine.bootstrap, "get_context", lambda: training_ctx)

    def run(*args: str) -> Any:
        return runner.invoke(app, list(args))

    return run


def test_add_import_and_list(kazi, training_ctx, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clip = tmp_path / "hello.wav"
    clip.write_bytes(tone_wav())
    added = kazi("training", "add", "--set", "practice", "--audio", str(clip),
                 "--text", "  Habari   yako ", "--json")  # fmt: skip
    assert added.exit_code == 0, added.output
    item = json.loads(added.stdout)
    assert item["kind"] == "transcription" and item["expected"] == {"text": "Habari yako"}
    assert item["media_key"].startswith("training/practice/") and item["source"] == "hello.wav"
    # The small Opus copy tasks get, in the store beside the original.
    assert training_ctx.store.get_bytes(item["lowres_media_key"])[:4] == b"OggS"
    assert training_ctx.store.get_bytes(item["media_key"]) == clip.read_bytes()

    picture = tmp_path / "cat.png"
    picture.write_bytes(png_bytes(20, 10))
    cls = kazi(
        "training",
        "add",
        "--set",
        "qualification",
        "--kind",
        "image_classification",
        "--image",
        str(picture),
        "--label",
        "paka",
        "--labels",
        "mbwa, paka",
        "--json",
    )
    assert cls.exit_code == 0, cls.output
    assert json.loads(cls.stdout)["labels"] == ["mbwa", "paka"]

    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("a", "b", "c"):
        (folder / f"{name}.wav").write_bytes(tone_wav(0.4 + 0.1 * ord(name) % 3))
    (folder / "a.txt").write_text("moja mbili\n", encoding="utf-8")
    (folder / "b.txt").write_text("tatu", encoding="utf-8")
    (folder / "notes.md").write_text("ignored")
    imported = kazi("training", "import", str(folder), "--set", "practice", "--json")
    assert imported.exit_code == 0, imported.output
    report = json.loads(imported.stdout)
    assert [i["source"] for i in report["added"]] == ["a.wav", "b.wav"]
    assert [i["position"] for i in report["added"]] == [item["position"] + 1, item["position"] + 2]
    assert report["skipped"] == ["c.wav: no c.txt"]

    listed = kazi("training", "list", "--set", "practice", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [r["expected"]["text"] for r in rows][-3:] == ["Habari yako", "moja mbili", "tatu"]
    plain = kazi("training", "list")
    assert plain.exit_code == 0 and "paka" in plain.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "--set", "practice", "--text", "x"], "--audio FILE"),
        (["add", "--set", "homework", "--audio", "{clip}", "--text", "x"], "practice or"),
        (["add", "--set", "practice", "--audio", "{clip}", "--text", "  "], "expected text"),
        (["add", "--set", "practice", "--audio", "{missing}", "--text", "x"], "no such file"),
        (["add", "--set", "practice", "--audio", "{png}", "--text", "x"], "png"),
        (["add", "--set", "practice", "--kind", "image_boxes", "--image", "{png}"], "--kind"),
        (
            [
                "add",
                "--set",
                "practice",
                "--kind",
                "image_classification",
                "--image",
                "{png}",
                "--label",
                "cow",
                "--labels",
                "cat,dog",
            ],
            "not one of",
        ),
        (
            [
                "add",
                "--set",
                "practice",
                "--kind",
                "image_classification",
                "--image",
                "{clip}",
                "--label",
                "cat",
                "--labels",
                "cat,dog",
            ],
            "clip.wav",
        ),
        (["import", "{missing}", "--set", "practice"], "not a folder"),
        (["import", "{empty}", "--set", "practice"], "no audio clip"),
        (["list", "--set", "homework"], "practice or"),
    ],
)
def test_bad_input_is_a_json_error_and_stores_nothing(  # type: ignore[no-untyped-def]
    kazi, training_ctx, tmp_path: Path, args, message
) -> None:
    clip, png, empty = tmp_path / "clip.wav", tmp_path / "p.png", tmp_path / "empty"
    clip.write_bytes(tone_wav())
    png.write_bytes(png_bytes(8, 8))
    empty.mkdir()
    paths = {"clip": clip, "png": png, "empty": empty, "missing": tmp_path / "nope.wav"}
    before = sorted(training_ctx.store.list_keys("training/"))
    result = kazi("training", *[a.format(**paths) for a in args], "--json")
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    error = json.loads(result.stdout)
    assert message in error["detail"] and error["exit_code"] == ExitCode.BAD_INPUT
    assert sorted(training_ctx.store.list_keys("training/")) == before


def test_new_trainees_get_training_once_there_is_a_qualification_set(  # type: ignore[no-untyped-def]
    kazi, training_ctx, tmp_path: Path
) -> None:
    picture = tmp_path / "q.png"
    picture.write_bytes(png_bytes(8, 8))
    assert (
        kazi(
            "training",
            "add",
            "--set",
            "qualification",
            "--kind",
            "image_classification",
            "--image",
            str(picture),
            "--label",
            "a",
            "--labels",
            "a,b",
        ).exit_code
        == 0
    )
    handle = f"t-{uuid.uuid4().hex[:8]}"
    trainee = json.loads(kazi("workers", "add", handle, "--json").stdout)
    assert trainee["training"] == "not_started"
    skipped = json.loads(kazi("workers", "add", handle + "s", "--skip-training", "--json").stdout)
    qualified = json.loads(kazi("workers", "add", handle + "q", "--tier", "qualified",
                                "--json").stdout)  # fmt: skip
    assert "training" not in skipped and "training" not in qualified
    with training_ctx.uow() as uow:
        assert uow.training.stage_of(trainee["id"]) is not None
        assert uow.training.stage_of(skipped["id"]) is None
    required = kazi("training", "require", handle + "q", "--json")
    assert required.exit_code == 0 and json.loads(required.stdout)["training"] == "not_started"
    unknown = kazi("training", "require", "nobody-" + handle, "--json")
    assert unknown.exit_code == ExitCode.NOT_FOUND
