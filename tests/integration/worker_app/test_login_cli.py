"""``kazi workers login-code``: the code, its link and QR code (terminal, SVG or PNG), and the
code logs the worker in once. In process (typer's runner) against the test database."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engine.cli.app import ExitCode
from engine.cli.main import app
from engine.worker_app.login_code import normalize

runner = CliRunner()


@pytest.fixture
def kazi(ctx: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    import engine.bootstrap

    monkeypatch.setattr(engine.bootstrap, "get_context", lambda: ctx)
    return lambda *args: runner.invoke(app, list(args))


def test_login_code_prints_the_code_link_and_qr(
    kazi: Any, ctx: Any, make_worker: Any, tmp_path: Path
) -> None:
    from engine.worker_app.sessions import redeem_login_code

    worker = make_worker()
    svg, png = tmp_path / "code.svg", tmp_path / "code.png"
    made = kazi("workers", "login-code", worker.handle, "--qr", str(svg), "--json")
    assert made.exit_code == 0, made.output
    out = json.loads(made.output)
    code = normalize(out["code"])
    assert code is not None and out["code"] == f"{code[:5]}-{code[5:]}"
    assert out["link"] == ctx.settings.public_url.rstrip("/") + f"/app/login/{code}"
    assert svg.read_text().lstrip().startswith(("<?xml", "<svg"))

    # Plain output: the code and link, and the QR code drawn in the terminal.
    shown = kazi("workers", "login-code", worker.handle, "--qr", str(png))
    assert shown.exit_code == 0, shown.output
    assert "login code: " in shown.output and "/app/login/" in shown.output
    assert "█" in shown.output or "▀" in shown.output
    assert png.read_bytes().startswith(b"\x89PNG")
    # The newer code revoked the first; it logs in once.
    newer = normalize(shown.output.split("login code: ", 1)[1].split()[0])
    token, session = ctx.in_unit_of_work(redeem_login_code, newer)
    assert session.worker_id == worker.id and token


def test_login_code_refuses_bad_input(kazi: Any, tmp_path: Path) -> None:
    unknown = kazi("workers", "login-code", "nobody-here", "--json")
    assert unknown.exit_code == ExitCode.NOT_FOUND
    assert json.loads(unknown.output)["code"] == "worker_not_found"
    bad_file = kazi("workers", "login-code", "nobody-here", "--qr", str(tmp_path / "x.gif"))
    assert bad_file.exit_code == ExitCode.BAD_INPUT
