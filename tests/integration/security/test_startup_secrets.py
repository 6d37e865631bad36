"""``kazi serve`` and ``kazi worker`` as real processes: with a production part configured they
refuse to start on a weak secret; embedded, they make private secrets once and keep them."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from engine.labeling.label_studio_server import free_port
from engine.secrets import MAKE_ONE
from engine.storage.signed_urls import sign_media_url
from tests.conftest import REPO_ROOT, TEST_DB_URL

KAZI = REPO_ROOT / ".venv" / "bin" / "kazi"
STRONG = {
    "KAZI_SIGNING_SECRET": "signing-" + "s" * 32,
    "KAZI_WEBHOOK_SECRET": "webhook-" + "w" * 32,
    "KAZI_DATA_KEY": "data-key-" + "d" * 32,
}


def _env(var_dir: Path, **kazi: str) -> dict[str, str]:
    """This process's environment without the test session's KAZI_* settings, plus ``kazi``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAZI_")}
    return {**env, "KAZI_VAR_DIR": str(var_dir), "PYTHONPATH": str(REPO_ROOT), **kazi}


def _start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # cwd is a fresh folder, so no developer .env is read.
    return subprocess.run(
        [str(KAZI), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


COMMANDS = {
    # A real port (kazi serve refuses 0): the secrets are checked before anything binds.
    "serve": ["serve", "--port", str(free_port())],
    "worker": ["worker", "--queues", "pipeline", "--concurrency", "1"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "is not set"),
        ("kazi-dev-signing-secret", "is a published default"),
        ("short-signing-secret", "is shorter than 32 bytes"),
    ],
)
def test_production_processes_refuse_a_weak_signing_secret(
    tmp_path: Path, command: str, value: str | None, reason: str
) -> None:
    kazi = {**STRONG, "KAZI_DATABASE_URL": TEST_DB_URL}
    if value is None:
        del kazi["KAZI_SIGNING_SECRET"]
    else:
        kazi["KAZI_SIGNING_SECRET"] = value
    proc = _start(COMMANDS[command], _env(tmp_path / "var", **kazi), tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"KAZI_SIGNING_SECRET (signs media links, start links and callbacks) {reason}" in (
        proc.stderr
    )
    assert "while KAZI_DATABASE_URL is set" in proc.stderr and MAKE_ONE in proc.stderr
    assert not (tmp_path / "var" / "secrets").exists()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_broker_or_s3_alone_is_production_too(tmp_path: Path, command: str) -> None:
    env = _env(
        tmp_path / "var",
        KAZI_BROKER_URL="redis://127.0.0.1:6379/0",
        KAZI_STORE_BACKEND="s3",
        KAZI_WEBHOOK_SECRET="kazi-dev-webhook-secret",
    )
    proc = _start(COMMANDS[command], env, tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "while KAZI_BROKER_URL, KAZI_STORE_BACKEND=s3 is set" in proc.stderr
    assert "KAZI_WEBHOOK_SECRET (authenticates Label Studio webhooks) is a published" in (
        proc.stderr
    )
    assert "KAZI_SIGNING_SECRET" in proc.stderr and "KAZI_DATA_KEY" in proc.stderr


@contextmanager
def _serving(env: dict[str, str], cwd: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = cwd / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(KAZI), "serve", "--port", str(port)],
            env={**env, "KAZI_PUBLIC_URL": url},
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"kazi serve did not answer: {log.read_text()}"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_embedded_serve_makes_private_secrets_once_and_keeps_them(tmp_path: Path) -> None:
    var = tmp_path / "var"
    env = _env(var)
    probe = "probe/never-stored.wav"
    expires = int(time.time()) + 600
    with _serving(env, tmp_path) as url:
        path = var / "secrets" / "signing_secret"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        secret = path.read_text().strip()
        assert len(secret) >= 32
        for name in ("webhook_secret", "data_key"):
            assert stat.S_IMODE((var / "secrets" / name).stat().st_mode) == 0o600
        # The server signs with the generated secret: a link made with it passes the signature
        # check (404, nothing stored there); one made with the old default does not (403).
        good = sign_media_url(url, probe, "GET", expires, secret)
        assert httpx.get(good).status_code == 404
        forged = sign_media_url(url, probe, "GET", expires, "kazi-dev-signing-secret")
        assert httpx.get(forged).status_code == 403
    with _serving(env, tmp_path) as url:
        assert path.read_text().strip() == secret
        assert httpx.get(sign_media_url(url, probe, "GET", expires, secret)).status_code == 404


def test_embedded_secret_file_others_can_read_stops_the_worker(tmp_path: Path) -> None:
    var = tmp_path / "var"
    (var / "secrets").mkdir(parents=True)
    leaked = var / "secrets" / "signing_secret"
    leaked.write_text("x" * 43)
    leaked.chmod(0o644)
    proc = _start(COMMANDS["worker"], _env(var), tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"can be read by other users; run: chmod 600 {leaked.resolve()}" in proc.stderr
