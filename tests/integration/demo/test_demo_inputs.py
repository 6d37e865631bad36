"""The demo ships its sample media and checks its inputs before it installs anything."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from engine.asr.recording_eval import speech_clips
from engine.demo.samples_dir import SAMPLES_DIR

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_the_bundled_samples_hold_every_clip_with_its_reference_and_licence() -> None:
    clips = speech_clips(SAMPLES_DIR / "speech")
    assert len(clips) == 6
    for path, reference in clips:
        assert path.is_file() and path.stat().st_size > 0, path
        assert reference.strip()
    attribution = (SAMPLES_DIR / "ATTRIBUTION.md").read_text()
    for licence in ("MIT", "CC BY 4.0", "Open Speech Repository"):
        assert licence in attribution
    shipped = {p.relative_to(SAMPLES_DIR / "speech").as_posix()
               for p in (SAMPLES_DIR / "speech").rglob("*") if p.is_file()}  # fmt: skip
    assert shipped == {p.relative_to(SAMPLES_DIR / "speech").as_posix() for p, _ in clips} | {
        "harvard-OSR_us_000_0034_8k.json",
        "librispeech/1089-134686.trans.txt",
        "librispeech/1089-134691.trans.txt",
    }  # nothing else was copied in


@pytest.fixture
def script_copy(tmp_path: Path) -> Path:
    """scripts/demo.sh in a bare tree whose install.sh only leaves a mark."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO_ROOT / "scripts" / "demo.sh", tmp_path / "scripts" / "demo.sh")
    (tmp_path / "scripts" / "install.sh").write_text("touch installed\nexit 1\n")
    return tmp_path


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--data", "/no/such/folder"], {}),
        (["--data=/no/such/folder"], {}),
        ([], {"KAZI_DATA": "/no/such/folder"}),
        ([], {}),  # no bundled samples in this tree
    ],
)
def test_a_missing_data_folder_fails_at_once_before_the_install(
    script_copy: Path, args: list[str], env: dict[str, str]
) -> None:
    done = subprocess.run(
        ["bash", str(script_copy / "scripts" / "demo.sh"), *args],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert "no speech/ folder" in done.stderr
    assert not (script_copy / "installed").exists()


def test_with_the_samples_in_place_the_script_goes_on_to_install(script_copy: Path) -> None:
    shutil.copytree(SAMPLES_DIR, script_copy / "engine" / "demo" / "samples")
    done = subprocess.run(
        ["bash", str(script_copy / "scripts" / "demo.sh")],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (script_copy / "installed").exists(), done.stderr
