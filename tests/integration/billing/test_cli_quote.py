"""``kazi submit --quote`` measures local files and prints the quote without submitting; the
embedded checkout's own tenant then submits the same paid job with no credit floor, and the
reservation equals the quote. Runs on the embedded defaults (SQLite, local store)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import REPO_ROOT
from tests.media_samples import png_bytes

KAZI = Path(sys.executable).parent / "kazi"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAZI_")}
    env["KAZI_VAR_DIR"] = str(tmp_path / "var")
    return env


def _kazi(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(KAZI), *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=180)  # fmt: skip


def _rows(var: Path, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(f"sqlite:///{var / 'kazi.sqlite3'}")
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_quote_prints_and_submits_nothing_then_the_demo_tenant_submits(  # type: ignore[no-untyped-def]
    env, tmp_path: Path
) -> None:
    images = []
    for i in range(3):
        path = tmp_path / f"{i}.png"
        path.write_bytes(png_bytes(40 + i, 30))
        images.append(str(path))
    spec = tmp_path / "paid.json"
    spec.write_text(json.dumps({
        "labels": ["cat", "dog"], "overlap": 2, "gold_ratio": 0,
        "pay_rate": {"amount": "10.00", "currency": "KES", "review_amount": "1.00"},
    }))  # fmt: skip
    args = [*images, "--kind", "image_classification", "--spec", str(spec)]
    proc = _kazi(["submit", *args, "--quote", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    quote = json.loads(proc.stdout)
    assert quote["counts"]["tasks"] == 3 and quote["counts"]["answers"] == 6
    assert sum(x["amount"]["minor"] for x in quote["lines"]) == quote["total"]["minor"]
    var = Path(env["KAZI_VAR_DIR"])
    assert _rows(var, "SELECT count(*) FROM jobs") == [(0,)]

    table = _kazi(["submit", *args, "--quote"], env)
    assert table.returncode == 0, table.stderr
    assert "nothing was submitted" in table.stdout and quote["total"]["text"] in table.stdout

    # The embedded tenant has no deposit and no credit floor: the paid job is accepted.
    submitted = _kazi(["submit", *args, "--json"], env)
    assert submitted.returncode == 0, submitted.stderr
    job_id = json.loads(submitted.stdout)["id"]
    reserved = _rows(
        var,
        "SELECT credits_posted - debits_posted FROM ledger_accounts "
        f"WHERE kind = 'client_reserved' AND owner = '{job_id}'",
    )
    assert reserved == [(quote["total"]["minor"],)]


def test_a_quote_of_a_job_without_a_pay_rate_is_refused(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes(20, 20))
    proc = _kazi(["submit", str(path), "--kind", "image_classification", "--labels", "a,b",
                  "--quote", "--json"], env)  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    error = json.loads(proc.stdout)
    assert error["code"] == "quote_refused" and "pay_rate" in error["detail"]
