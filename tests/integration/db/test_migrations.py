"""Alembic migrations run forwards and backwards on SQLite and PostgreSQL, and match the models."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from engine.db.migrate import downgrade_database, upgrade_database
from engine.db.schema import Base
from tests.conftest import PG_ADMIN_URL, _admin_exec

TABLES = {"clients", "api_keys", "jobs", "job_stage_events", "source_media", "tasks", "drafts"}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.sqlite3'}"
        return
    name = f"kazi_mig_{uuid.uuid4().hex[:10]}"
    _admin_exec(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        _admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_upgrade_downgrade_upgrade_and_no_drift(empty_db_url):
    upgrade_database(empty_db_url)
    engine = create_engine(empty_db_url)
    try:
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as conn:
            # The migrated schema is what the models declare: no autogenerate diff.
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        downgrade_database(empty_db_url, "base")
        assert not TABLES & set(inspect(engine).get_table_names())
        upgrade_database(empty_db_url)
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()
