"""`kazi submit --wait --json` on the embedded defaults: SQLite, local store, filesystem broker and
a real worker process started by the CLI; then `kazi serve` streams the segments it made."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import REPO_ROOT
from tests.media_samples import HARVARD, decode_mono


def _embedded_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAZI_")}
    env["KAZI_VAR_DIR"] = str(var_dir)
    return env


def _kazi(
    args: list[str], env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli.main", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rms(signal: np.ndarray, rate: int, start: float, end: float) -> float:
    window = signal[int(start * rate) : max(int(end * rate), int(start * rate) + 1)].astype(
        np.float64
    )
    return float(np.sqrt(np.mean(window**2)))


@pytest.fixture(scope="module")
def embedded_run():  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory(prefix="kazi-embedded-") as tmp:
        env = _embedded_env(Path(tmp) / "var")
        # Media links the CLI prints point at the API this test starts later.
        env["KAZI_PUBLIC_URL"] = f"http://127.0.0.1:{_free_port()}"
        proc = _kazi(["submit", "--kind", "transcription", str(HARVARD), "--wait", "--json"], env)
        yield proc, env


def test_submit_wait_json_on_embedded_defaults(embedded_run):
    proc, env = embedded_run
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) >= {"id", "status", "tasks"}
    assert out["status"] == "labeling"
    tasks = out["tasks"]
    assert len(tasks) >= 2
    for task in tasks:
        assert set(task) >= {"id", "kind", "source", "start", "end"}
        assert task["kind"] == "audio_segment" and task["source"] == HARVARD.name
        assert 0 < task["end"] - task["start"] <= 30.0
    # The embedded database is a SQLite file under the var dir; the broker is the filesystem.
    var = Path(env["KAZI_VAR_DIR"])
    assert (var / "kazi.sqlite3").exists() and (var / "broker").is_dir()


def test_cuts_fall_between_the_ten_harvard_sentences(embedded_run):
    proc, _ = embedded_run
    tasks = json.loads(proc.stdout)["tasks"]
    signal = decode_mono(HARVARD, 16000)
    # Loudness of speech, measured independently of the splitter: median 50 ms frame RMS of the
    # louder half of the recording.
    frames = [
        _rms(signal, 16000, t, t + 0.05) for t in np.arange(0, len(signal) / 16000 - 0.05, 0.05)
    ]
    speech_level = float(np.median(sorted(frames)[len(frames) // 2 :]))
    for prev, nxt in zip(tasks, tasks[1:], strict=False):
        # The overlap around each cut must be silence: no sentence is cut.
        level = _rms(signal, 16000, nxt["start"], prev["end"])
        assert level < 0.1 * speech_level, (prev, nxt, level, speech_level)


def test_segments_play_through_the_api(embedded_run):
    proc, env = embedded_run
    out = json.loads(proc.stdout)
    port = int(env["KAZI_PUBLIC_URL"].rsplit(":", 1)[1])
    server = subprocess.Popen(
        [sys.executable, "-m", "engine.cli.main", "serve", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        status = _kazi(["status", out["id"], "--json"], env)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["stage"] == "labeling"
        tasks = out["tasks"]
        with tempfile.TemporaryDirectory() as tmp:
            from engine.media.audio import probe_audio

            for task in tasks:
                resp = httpx.get(task["media_url"], timeout=30)
                assert resp.status_code == 200
                assert resp.headers["access-control-allow-origin"] == "*"
                path = Path(tmp) / f"{task['id']}.flac"
                path.write_bytes(resp.content)
                assert probe_audio(path).duration_seconds == pytest.approx(
                    task["end"] - task["start"], abs=0.08
                )
            tampered = tasks[0]["media_url"].replace("signature=", "signature=00")
            assert httpx.get(tampered).status_code == 403
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_submit_reports_bad_input_clearly(tmp_path):
    env = _embedded_env(tmp_path / "var")
    notes = tmp_path / "notes.wav"
    notes.write_text("not audio at all, just text\n" * 10)
    proc = _kazi(["submit", "--kind", "transcription", str(notes)], env)
    assert proc.returncode == 2
    assert "not a supported audio or image format" in proc.stderr
    spec = tmp_path / "job.yaml"
    spec.write_text("overlap: -2\n")
    proc = _kazi(["submit", "--kind", "transcription", str(HARVARD), "--spec", str(spec)], env)
    assert proc.returncode == 2 and "overlap" in proc.stderr
    proc = _kazi(["submit", "--kind", "transcription", str(tmp_path / "missing.wav")], env)
    assert proc.returncode == 2 and "no such file" in proc.stderr
