"""Migration 0011 on a database that has Label Studio rows (SQLite and PostgreSQL): the rows
keep their ids under the configured server's name ('' when none is configured), and a second
server's rows with the same ids then fit beside them, while the same server's do not."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from engine.db.migrate import upgrade_database
from engine.settings import get_settings
from tests.conftest import PG_ADMIN_URL, _admin_exec

NOW = datetime(2026, 12, 1, tzinfo=UTC)
ID_COLUMNS = {
    "label_studio_projects": "ls_project_id",
    "label_studio_tasks": "ls_task_id",
    "refused_annotations": "ls_annotation_id",
    "workers": "ls_user_id",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.sqlite3'}"
        return
    name = f"kazi_mig_{uuid.uuid4().hex[:10]}"
    _admin_exec(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        _admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def configured_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("KAZI_LABEL_STUDIO_URL", "HTTP://Old-LS.example:8080/")
    monkeypatch.setenv("KAZI_LABEL_STUDIO_TOKEN", "a-token")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _insert(conn: sa.Connection, table: str, **values: object) -> None:
    columns = ", ".join(values)
    conn.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES "
                         f"({', '.join(':' + k for k in values)})"), values)  # fmt: skip


def _rows_before_0011(conn: sa.Connection) -> tuple[str, str]:
    """A job with one task published as Label Studio project 1 / task 1, a worker mapped to
    user 1, their answer from annotation 1 and a refused annotation 1."""
    client, job, source, task, worker = (str(uuid.uuid4()) for _ in range(5))
    _insert(conn, "clients", id=client, name=f"c-{client[:8]}", created_at=NOW)
    _insert(conn, "jobs", id=job, client_id=client, kind="image_classification",
            spec='{"kind": "image_classification"}', stage="labeling", created_at=NOW,
            updated_at=NOW)  # fmt: skip
    _insert(conn, "source_media", id=source, job_id=job, seq=0, filename="a.png",
            object_key="k", sha256="0" * 64, size_bytes=1, media_type="image",
            content_type="image/png", status="split", created_at=NOW)  # fmt: skip
    _insert(conn, "tasks", id=task, job_id=job, source_id=source, seq=0, kind="image",
            object_key="k", status="ready", is_gold=False, created_at=NOW)  # fmt: skip
    _insert(conn, "workers", id=worker, handle=f"w-{worker[:8]}", tier="trainee",
            status="active", key_prefix=worker[:12], key_hash="h", ls_user_id=1,
            ls_email="w@workers.kazi.local", created_at=NOW)  # fmt: skip
    _insert(conn, "label_studio_projects", ls_project_id=1, job_id=job, role="work", replica=0,
            created_at=NOW)  # fmt: skip
    _insert(conn, "label_studio_tasks", ls_task_id=1, ls_project_id=1, task_id=task, replica=0)
    _insert(conn, "refused_annotations", ls_annotation_id=1, ls_project_id=1, reason="r",
            payload="{}", created_at=NOW)  # fmt: skip
    _insert(conn, "answers", task_id=task, job_id=job, worker_id=worker, is_gold=False,
            source="label_studio", payload='{"label": "cat"}', ls_annotation_id=1,
            client_answer_id="ls-1", created_at=NOW, updated_at=NOW)  # fmt: skip
    return job, task


def _servers(conn: sa.Connection, table: str) -> list[tuple[str | None, int | None]]:
    id_column = ID_COLUMNS[table]
    rows = conn.execute(sa.text(f"SELECT ls_server, {id_column} FROM {table}")).all()
    return sorted((r[0], r[1]) for r in rows)


def _upgrade_with_rows(url: str) -> tuple[sa.Engine, str, str]:
    upgrade_database(url, "0010")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        job, task = _rows_before_0011(conn)
    upgrade_database(url)
    return engine, job, task


def test_rows_get_the_configured_server_and_a_new_server_fits_beside(db_url, configured_server):
    engine, job, task = _upgrade_with_rows(db_url)
    old, new = "http://old-ls.example:8080", "http://new-ls.example:8080"
    try:
        with engine.begin() as conn:
            for table in ("label_studio_projects", "label_studio_tasks", "refused_annotations",
                          "workers"):  # fmt: skip
                assert _servers(conn, table) == [(old, 1)], table
            # The same ids from a fresh server at another address.
            worker = str(uuid.uuid4())
            _insert(conn, "workers", id=worker, handle=f"w-{worker[:8]}", tier="trainee",
                    status="active", key_prefix=worker[:12], key_hash="h", ls_server=new,
                    ls_user_id=1, created_at=NOW)  # fmt: skip
            _insert(conn, "label_studio_projects", ls_server=new, ls_project_id=1, job_id=job,
                    role="work", replica=0, created_at=NOW)  # fmt: skip
            _insert(conn, "label_studio_tasks", ls_server=new, ls_task_id=1, ls_project_id=1,
                    task_id=task, replica=0)  # fmt: skip
            _insert(conn, "refused_annotations", ls_server=new, ls_annotation_id=1,
                    ls_project_id=1, reason="r", payload="{}", created_at=NOW)  # fmt: skip
            _insert(conn, "answers", task_id=task, job_id=job, worker_id=worker, is_gold=False,
                    source="label_studio", payload="{}", ls_annotation_id=1,
                    client_answer_id="ls-x-1", created_at=NOW, updated_at=NOW)  # fmt: skip
            assert _servers(conn, "label_studio_tasks") == [(new, 1), (old, 1)]
        # ... but the old server's ids stay unique on that server.
        for table, values in [
            ("label_studio_projects", {"ls_project_id": 1, "job_id": job, "role": "review",
                                       "replica": 0, "created_at": NOW}),
            ("label_studio_tasks", {"ls_task_id": 1, "ls_project_id": 2, "task_id": task,
                                    "replica": 1}),
            ("refused_annotations", {"ls_annotation_id": 1, "ls_project_id": 1, "reason": "r",
                                     "payload": "{}", "created_at": NOW}),
        ]:  # fmt: skip
            with pytest.raises(IntegrityError), engine.begin() as conn:
                _insert(conn, table, ls_server=old, **values)
    finally:
        engine.dispose()


def test_without_a_configured_server_rows_get_the_empty_name(db_url, monkeypatch):
    monkeypatch.setenv("KAZI_LABEL_STUDIO_TOKEN", "")
    get_settings.cache_clear()
    try:
        engine, _, _ = _upgrade_with_rows(db_url)
    finally:
        get_settings.cache_clear()
    try:
        with engine.connect() as conn:
            assert _servers(conn, "label_studio_projects") == [("", 1)]
            assert _servers(conn, "workers") == [("", 1)]
    finally:
        engine.dispose()
