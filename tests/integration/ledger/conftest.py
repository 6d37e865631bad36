"""The ledger on both databases it runs on: a migrated SQLite file and the session's
PostgreSQL database (owners are unique per test, so tests share it safely)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path) -> Iterator[sessionmaker[Session]]:  # type: ignore[no-untyped-def]
    from engine.db.migrate import upgrade_database
    from engine.db.session import get_sessionmaker

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
        upgrade_database(url)
    else:
        url = request.getfixturevalue("pg_database")
    yield get_sessionmaker(url)
