"""``kazi status`` and ``kazi fetch`` see jobs submitted through the API: in embedded mode every
job of this machine's database; with ``--client KEY`` that client's jobs only; with ``--api URL``
through the running server. Runs on the embedded defaults (SQLite, local store), one server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.cli.app import ExitCode
from tests.conftest import REPO_ROOT
from tests.media_samples import png_bytes

KAZI = Path(sys.executable).parent / "kazi"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAZI_")}
    env["KAZI_VAR_DIR"] = str(tmp_path_factory.mktemp("var"))
    return env


def _kazi(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(KAZI), *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def api_url(env: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    log = Path(env["KAZI_VAR_DIR"]) / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(KAZI), "serve", "--port", str(port)], cwd=REPO_ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _client_key(env: dict[str, str], name: str) -> str:
    proc = _kazi(["clients", "create", name, "--json"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return str(json.loads(proc.stdout)["api_key"])


@pytest.fixture(scope="module")
def api_job(env: dict[str, str], api_url: str) -> tuple[str, str]:
    """A job submitted through the API by client acme: (job id, acme's key)."""
    key = _client_key(env, "acme")
    spec = {"kind": "image_classification", "labels": ["cat", "dog"]}
    response = httpx.post(
        f"{api_url}/v1/jobs",
        headers={"Authorization": f"Bearer {key}"},
        data={"spec": json.dumps(spec)},
        files=[("files", ("cat.png", png_bytes(40, 30), "image/png"))],
        timeout=60,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"]), key


def test_embedded_status_without_a_key_sees_a_job_submitted_through_the_api(env, api_job):
    job_id, _ = api_job
    proc = _kazi(["status", job_id, "--json"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["id"] == job_id
    # fetch finds it too: the job exists, it just has nothing delivered yet.
    fetched = _kazi(["fetch", job_id, "--json"], env)
    assert fetched.returncode == ExitCode.NOT_READY, fetched.stdout + fetched.stderr
    assert json.loads(fetched.stdout)["code"] == "not_ready"


def test_client_key_scopes_status_and_fetch_to_that_client(env, api_job):
    job_id, acme_key = api_job
    shown = _kazi(["status", job_id, "--client", acme_key, "--json"], env)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert json.loads(shown.stdout)["id"] == job_id
    other_key = _client_key(env, "globex")
    for command in ("status", "fetch"):
        hidden = _kazi([command, job_id, "--client", other_key, "--json"], env)
        assert hidden.returncode == ExitCode.NOT_FOUND, (command, hidden.stdout, hidden.stderr)
        assert json.loads(hidden.stdout)["code"] == "job_not_found"


def test_an_unknown_key_is_bad_input(env, api_job):
    job_id, _ = api_job
    for command in ("status", "fetch"):
        proc = _kazi([command, job_id, "--client", "kz_nonsense", "--json"], env)
        assert proc.returncode == ExitCode.BAD_INPUT, (command, proc.stdout, proc.stderr)
        assert json.loads(proc.stdout)["code"] == "bad_api_key"


def test_status_and_fetch_through_the_running_api(env, api_url, api_job):
    job_id, acme_key = api_job
    shown = _kazi(["status", job_id, "--client", acme_key, "--api", api_url, "--json"], env)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert json.loads(shown.stdout)["id"] == job_id
    fetched = _kazi(["fetch", job_id, "--client", acme_key, "--api", api_url, "--json"], env)
    assert fetched.returncode == ExitCode.NOT_READY, fetched.stdout + fetched.stderr
    other = _kazi(["status", job_id, "--client", _client_key(env, "initech"), "--api", api_url,
                   "--json"], env)  # fmt: skip
    assert other.returncode == ExitCode.NOT_FOUND, other.stdout + other.stderr
    keyless = _kazi(["status", job_id, "--api", api_url, "--json"], env)
    assert keyless.returncode == ExitCode.BAD_INPUT
    assert "--api needs --client" in json.loads(keyless.stdout)["detail"]


def test_with_a_production_database_no_key_means_the_local_client(ctx):
    """Not embedded (the session's PostgreSQL): a job of another client stays out of sight
    unless its key is given."""
    import uuid

    from engine.cli.client_scope import client_for_job
    from engine.clients.service import create_client, ensure_client
    from engine.db.models import JobRow
    from engine.secrets import is_embedded
    from tests.conftest import manual_uow

    assert not is_embedded(ctx.settings)
    acme = ctx.in_unit_of_work(create_client, f"acme-{uuid.uuid4().hex[:8]}")
    job_id = str(uuid.uuid4())
    with manual_uow(ctx) as uow:
        uow.jobs.add(JobRow(id=job_id, client_id=acme.client_id, kind="image_classification",
                            spec={"kind": "image_classification"}, stage="received"))  # fmt: skip
        uow.commit()
    local = ctx.in_unit_of_work(ensure_client, ctx.settings.local_client_name)
    assert client_for_job(ctx, job_id, None) == local != acme.client_id
    assert client_for_job(ctx, job_id, acme.api_key) == acme.client_id
