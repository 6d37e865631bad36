"""Test-session wiring: a fresh PostgreSQL database, a Redis-backed Celery broker and a real worker.

The environment is set here, before any engine module is imported, so the API, the CLI and the
worker subprocess all see the same database, broker and object store.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Browser fixtures (one Chromium for the whole session), registered once for every folder.
pytest_plugins = ["tests.browser"]

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = (REPO_ROOT.parent / "shared" / "data").resolve()
SPEECH = SHARED_DATA / "speech"

PG_ADMIN_URL = os.environ.get(
    "KAZI_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
RUN_ID = uuid.uuid4().hex[:10]
TEST_DB = f"kazi_test_{RUN_ID}"
TEST_DB_URL = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + TEST_DB
# Created on first use by the engine; removed with the test database.
TEST_VAR = Path(tempfile.gettempdir()) / f"kazi-test-{RUN_ID}"

os.environ.update(
    {
        "KAZI_DATABASE_URL": TEST_DB_URL,
        "KAZI_VAR_DIR": str(TEST_VAR),
        "KAZI_STORE_BACKEND": "local",
        "KAZI_BROKER_URL": os.environ.get("KAZI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "KAZI_BROKER_KEY_PREFIX": f"kazi-test-{RUN_ID}:",
        "KAZI_RESULT_BACKEND": "db+" + TEST_DB_URL,
        # Production mode (a database URL): the engine refuses secrets under 32 bytes.
        "KAZI_SIGNING_SECRET": f"test-signing-secret-{uuid.uuid4().hex}",
        "KAZI_WEBHOOK_SECRET": f"test-webhook-secret-{uuid.uuid4().hex}",
        "KAZI_DATA_KEY": f"test-data-key-{uuid.uuid4().hex}",
        # Income statements are signed with an Ed25519 key (32 raw bytes, base64).
        "KAZI_STATEMENT_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),
        # Review only what the agreement threshold sends, so review counts are deterministic.
        "KAZI_REVIEW_SAMPLE_RATE": "0",
    }
)


def _admin_exec(sql: str) -> None:
    import psycopg

    dsn = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database migrated to head; dropped at the end."""
    _admin_exec(f'CREATE DATABASE "{TEST_DB}"')
    from engine.db.migrate import upgrade_database

    upgrade_database(TEST_DB_URL)
    yield TEST_DB_URL
    from engine.db.session import get_engine

    get_engine(TEST_DB_URL).dispose()
    _admin_exec(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)')
    shutil.rmtree(TEST_VAR, ignore_errors=True)


@pytest.fixture(scope="session")
def ctx(pg_database: str):  # type: ignore[no-untyped-def]
    from engine.bootstrap import get_context

    return get_context()


@pytest.fixture(scope="session")
def api(ctx):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from engine.api.app import create_app

    with TestClient(create_app(ctx)) as client:
        yield client


def make_client(ctx, name: str | None = None) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    from engine.clients.service import create_client

    created = ctx.in_unit_of_work(create_client, name or f"client-{uuid.uuid4().hex[:8]}")
    return created.client_id, {"Authorization": f"Bearer {created.api_key}"}


def manual_uow(ctx):  # type: ignore[no-untyped-def]
    """A unit of work whose outbox is never relayed: for tests that drive each stage by hand
    (the routed next steps stay in the outbox, where the test can read them)."""
    from engine.unit_of_work import SqlAlchemyUnitOfWork

    return SqlAlchemyUnitOfWork(ctx.sessions)


@pytest.fixture
def client_auth(ctx) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    return make_client(ctx)


class WorkerProcess:
    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = TEST_VAR / f"worker-{uuid.uuid4().hex[:6]}.log"

    def start(
        self,
        queues: str = "ingest,asr,publish,score,assemble,pipeline",
        concurrency: int = 2,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers.celery_app",
                "worker",
                "--queues",
                queues,
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=REPO_ROOT,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(extra_env or {})},
        )

    def stop(self, sig: int = 15) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


@pytest.fixture(scope="session")
def celery_worker_process(pg_database: str) -> Iterator[WorkerProcess]:
    """A real Celery worker process consuming the test broker."""
    worker = WorkerProcess()
    worker.start()
    yield worker
    worker.stop()


def wait_for_stage(ctx, job_id: str, stages: set[str], timeout: float = 180.0, worker=None) -> str:  # type: ignore[no-untyped-def]
    from engine.jobs.repository import JobRepository

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with ctx.sessions() as session:
            job = JobRepository(session).get(job_id)
            assert job is not None
            if job.stage in stages:
                return job.stage
        time.sleep(0.3)
    raise AssertionError(
        f"job {job_id} did not reach {stages} in {timeout} s"
        + (f"\nworker log:\n{worker.tail()}" if worker else "")
    )


@pytest.fixture(scope="session")
def label_studio():  # type: ignore[no-untyped-def]
    """One real Label Studio server for the test session: a free port on loopback and a
    throwaway PostgreSQL database copied from a migrated template (seconds, not a minute).
    Nothing is skipped: without ``.venv-labelstudio`` the install script runs first."""
    from engine.labeling.label_studio_server import (
        LabelStudioServer,
        PostgresServer,
        ensure_installed,
        ensure_template_database,
    )

    ensure_installed()
    postgres = PostgresServer.from_url(PG_ADMIN_URL)
    server = LabelStudioServer.throwaway(
        postgres=postgres, template_database=ensure_template_database(postgres)
    )
    server.start()
    try:
        # Generous: two shared cores, and other suites may be starting servers too.
        server.wait_ready(timeout=300)
        yield server
    finally:
        server.stop()
