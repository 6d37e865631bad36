"""``kazi serve``, ``up``, ``worker`` and ``demo`` fail like every other command: with --json one
JSON error object on stdout and the documented exit code, else ``error: ...`` on stderr.
Every case fails on its input, before any process, database or model is touched."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from engine.cli.app import ExitCode
from engine.cli.main import app

runner = CliRunner()


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


BAD_INPUT = [
    (["serve", "--port", "99999"], "--port must be between 1 and 65535"),
    (["serve", "--port", "0"], "--port must be between 1 and 65535"),
    (["serve", "--workers", "0"], "--workers must be at least 1"),
    (["up", "--port", "70000"], "--port must be between 1 and 65535"),
    (["up", "--concurrency", "0"], "--concurrency must be at least 1"),
    (["worker", "--concurrency", "0"], "--concurrency must be at least 1"),
    (["worker", "--queues", "ingest,nonsense"], "unknown queue(s) ['nonsense']"),
    (["worker", "--queues", ","], "unknown queue(s)"),
    (["demo", "--data", "/nonexistent"], "no speech folder under /nonexistent"),
    (["serve", "--port", "not-a-number"], "Invalid value for '--port'"),  # a usage error
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_with_json_is_one_json_error_and_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == ExitCode.BAD_INPUT == 2, result.output
    error = json.loads(result.stdout)
    assert error["code"] == "bad_input" and error["exit_code"] == 2
    assert message in error["detail"]


@pytest.mark.parametrize(
    ("args", "message"), BAD_INPUT[:-1], ids=[" ".join(a) for a, _ in BAD_INPUT[:-1]]
)
def test_bad_input_without_json_is_a_plain_error_on_stderr(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and message in result.stderr


@pytest.mark.parametrize("command", ["serve", "up"])
def test_a_port_in_use_is_reported_before_anything_starts(command: str, taken_port: int) -> None:
    result = runner.invoke(app, [command, "--port", str(taken_port), "--json"])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    error = json.loads(result.stdout)
    assert error["code"] == "bad_input"
    assert f"cannot listen on 127.0.0.1:{taken_port}" in error["detail"]


def test_weak_secrets_outside_embedded_mode_are_a_json_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from engine.settings import get_settings

    # A production broker with no secrets set: kazi worker refuses to start.
    monkeypatch.setenv("KAZI_BROKER_URL", "redis://127.0.0.1:1/0")
    for name in ("KAZI_SIGNING_SECRET", "KAZI_WEBHOOK_SECRET", "KAZI_DATA_KEY"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["worker", "--queues", "score", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert json.loads(result.stdout)["code"] == "insecure_secrets"
