"""The installed ``kazi`` follows the conventions of well-liked CLIs: ``--version``, flags shown as
flags, examples in every command's help, ``--json`` on every command, errors included, and the
exit codes ``kazi --help`` documents. Runs on the embedded defaults (SQLite, local store)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path

import pytest

from engine.cli.app import ExitCode
from tests.conftest import REPO_ROOT
from tests.media_samples import png_bytes

KAZI = Path(sys.executable).parent / "kazi"
COMMANDS = [["submit"], ["status"], ["fetch"], ["workers", "add"], ["workers", "list"],
            ["workers", "pause"], ["serve"], ["up"], ["worker"], ["demo"], ["db", "upgrade"],
            ["clients", "create"], ["ledger", "check"], ["ledger", "balances"],
            ["ledger", "topup"], ["payouts", "run"], ["payouts", "reconcile"],
            ["payouts", "show"], ["payouts", "export"], ["payouts", "import-results"],
            ["staff", "add"], ["staff", "revoke"], ["workers", "payout-method", "set"],
            ["workers", "payout-method", "code"], ["workers", "payout-method", "confirm"],
            ["workers", "payout-method", "show"]]  # fmt: skip


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAZI_")}
    env["KAZI_VAR_DIR"] = str(tmp_path / "var")
    env["COLUMNS"] = "200"  # help text on one line per option
    return env


def _kazi(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(KAZI), *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_version_is_the_installed_package_version(env):
    proc = _kazi(["--version"], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"kazi {metadata.version('kazi')}"


def test_help_documents_the_exit_codes(env):
    proc = _kazi(["--help"], env)
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert "--version" in text
    for code in ExitCode:
        assert re.search(rf"\b{code.value} \w", text.split("Exit codes:", 1)[1]), code


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_shows_examples_and_flags_without_a_value(env, command):
    proc = _kazi([*command, "--help"], env)
    assert proc.returncode == 0, proc.stderr
    assert "Examples:" in proc.stdout
    assert f"$ kazi {' '.join(command)}" in proc.stdout
    flag_lines = [line for line in proc.stdout.splitlines() if re.search(r"--(json|help)\b", line)]
    assert any("--json" in line for line in flag_lines), proc.stdout
    assert not any("<bool>" in line for line in flag_lines), flag_lines


def test_submit_help_shows_wait_as_a_flag_and_offers_labels(env):
    out = _kazi(["submit", "--help"], env).stdout
    wait = next(line for line in out.splitlines() if "--wait" in line)
    assert "<" not in wait, wait
    assert "--labels" in out


def test_an_unknown_job_answers_a_json_error_and_the_not_found_code(env):
    proc = _kazi(["status", "garbage", "--json"], env)
    assert proc.returncode == ExitCode.NOT_FOUND == 4
    error = json.loads(proc.stdout)
    assert error["code"] == "job_not_found" and "garbage" in error["detail"]
    assert error["exit_code"] == proc.returncode
    assert "Traceback" not in proc.stderr
    plain = _kazi(["status", "garbage"], env)
    assert plain.returncode == ExitCode.NOT_FOUND and plain.stdout == ""
    assert plain.stderr.startswith("error: ") and "garbage" in plain.stderr
    fetched = _kazi(["fetch", "garbage", "--json"], env)
    assert fetched.returncode == ExitCode.NOT_FOUND
    assert json.loads(fetched.stdout)["exit_code"] == ExitCode.NOT_FOUND


def test_a_usage_error_with_json_is_a_json_error_too(env):
    for args in (["status", "--json"], ["submit", "--json", "--kind", "nonsense", "x.png"]):
        proc = _kazi(args, env)
        assert proc.returncode == ExitCode.BAD_INPUT, (args, proc.stdout, proc.stderr)
        error = json.loads(proc.stdout)
        assert error["code"] == "bad_input" and error["exit_code"] == ExitCode.BAD_INPUT


def test_submit_labels_reach_the_spec_and_times_carry_their_offset(env, tmp_path):
    image = tmp_path / "cat.png"
    image.write_bytes(png_bytes(40, 30))
    spec = tmp_path / "job.yaml"
    spec.write_text("overlap: 1\nlabels: [ignored, replaced]\n")
    proc = _kazi(["submit", str(image), "--kind", "image_classification", "--spec", str(spec),
                  "--labels", "cat,dog", "--labels", "bird", "--json"], env)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    job_id = json.loads(proc.stdout)["id"]
    shown = _kazi(["status", job_id, "--json"], env)
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["spec"]["labels"] == ["cat", "dog", "bird"]
    assert detail["spec"]["overlap"] == 1
    # The embedded database (SQLite) stores naive times; the answer still says UTC.
    times = [detail["created_at"], detail["updated_at"]] + [
        e["at"] for e in detail["stage_history"]
    ]
    assert len(times) >= 3
    for text in times:
        assert datetime.fromisoformat(text).utcoffset() == timedelta(0), text


def test_bad_labels_are_bad_input_in_json(env, tmp_path):
    image = tmp_path / "cat.png"
    image.write_bytes(png_bytes(40, 30))
    proc = _kazi(["submit", str(image), "--kind", "image_classification", "--labels", "cat",
                  "--json"], env)  # fmt: skip
    assert proc.returncode == ExitCode.BAD_INPUT
    error = json.loads(proc.stdout)
    assert error["exit_code"] == ExitCode.BAD_INPUT and "two labels" in error["detail"]
