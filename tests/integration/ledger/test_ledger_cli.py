"""``kazi ledger`` on the embedded defaults (SQLite): top-ups post once per reference, bad
amounts are refused with exit 2, and ``check`` exits 1 when a balance row was tampered with."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli.app import ExitCode
from tests.conftest import REPO_ROOT

KAZI = Path(sys.executable).parent / "kazi"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAZI_")}
    env["KAZI_VAR_DIR"] = str(tmp_path / "var")
    return env


def _kazi(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(KAZI), *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def _json(proc: subprocess.CompletedProcess[str]) -> dict:  # type: ignore[type-arg]
    return json.loads(proc.stdout)


def test_topup_balances_and_check(env: dict[str, str], tmp_path: Path) -> None:
    created = _kazi(["clients", "create", "acme", "--json"], env)
    assert created.returncode == 0, created.stderr
    client_id = (
        _json(created)["client_id"] if "client_id" in _json(created) else _json(created)["id"]
    )
    topup = ["ledger", "topup", "--client", "acme", "--amount", "100.50", "--currency", "KES",
             "--reference", "INV-1", "--json"]  # fmt: skip
    first = _kazi(topup, env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert _json(first)["posted"] is True
    assert _json(first)["funds"]["minor"] == 10050
    again = _kazi(topup, env)
    assert _json(again)["posted"] is False and _json(again)["funds"]["minor"] == 10050

    balances = _kazi(["ledger", "balances", "--owner", client_id, "--json"], env)
    assert balances.returncode == 0, balances.stderr
    assert [(r["kind"], r["minor"], r["text"]) for r in json.loads(balances.stdout)] == [
        ("client_funds", 10050, "KES 100.50")
    ]
    check = _kazi(["ledger", "check", "--json"], env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert _json(check)["clean"] is True and _json(check)["transactions"] == 1

    (database,) = (tmp_path / "var").rglob("*.sqlite3")
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE ledger_accounts SET credits_posted = credits_posted + 1")
    broken = _kazi(["ledger", "check", "--json"], env)
    assert broken.returncode == ExitCode.FAILED
    assert _json(broken)["clean"] is False and len(_json(broken)["differences"]) >= 1


@pytest.mark.parametrize(
    ("amount", "currency", "reference", "client", "exit_code", "code"),
    [
        ("1.005", "KES", "R", "acme", ExitCode.BAD_INPUT, "bad_amount"),
        ("-5", "KES", "R", "acme", ExitCode.BAD_INPUT, "bad_amount"),
        ("0", "KES", "R", "acme", ExitCode.BAD_INPUT, "bad_amount"),
        ("1.5", "UGX", "R", "acme", ExitCode.BAD_INPUT, "bad_amount"),
        ("10", "XYZ", "R", "acme", ExitCode.BAD_INPUT, "bad_amount"),
        ("ten", "KES", "R", "acme", ExitCode.BAD_INPUT, "bad_amount"),
        ("NaN", "KES", "R", "acme", ExitCode.BAD_INPUT, "bad_amount"),
        ("10", "KES", "", "acme", ExitCode.BAD_INPUT, "bad_amount"),
        ("10", "KES", "R", "nobody", ExitCode.NOT_FOUND, "client_not_found"),
    ],
)
def test_topup_refuses_bad_input(env, amount, currency, reference, client, exit_code, code):  # type: ignore[no-untyped-def]
    proc = _kazi(["ledger", "topup", "--client", client, "--amount", amount, "--currency",
                  currency, "--reference", reference, "--json"], env)  # fmt: skip
    assert proc.returncode == exit_code, proc.stdout + proc.stderr
    assert _json(proc)["code"] == code
