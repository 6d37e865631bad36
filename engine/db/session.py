"""Database engine and sessions (one engine per URL per process)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy emits BEGIN itself (below) instead of the driver's lazy, deferred one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while a worker writes; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # SQLite has no row locks (FOR UPDATE is ignored): taking the write lock when a transaction
    # starts makes read-check-write use cases (stage moves, leases) safe across processes.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


@lru_cache(maxsize=8)
def get_engine(url: str, pool_size: int = 20) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    # Overflow connections are closed when returned, so a busy API would fork a server process
    # per request past pool_size: size the pool for the API's threads instead.
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=10)


@lru_cache(maxsize=8)
def get_sessionmaker(url: str, pool_size: int = 20) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url, pool_size), expire_on_commit=False)
