"""One real Label Studio server for the test session: a free port on loopback and a throwaway
PostgreSQL database, copied from a migrated template so start-up takes seconds, not a minute.

Nothing is skipped: when ``.venv-labelstudio`` is missing, ``scripts/label_studio.sh install``
runs first (a minute or two).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from engine.labeling.label_studio_server import (
    LabelStudioServer,
    PostgresServer,
    ensure_installed,
    ensure_template_database,
)

# The same admin connection the root conftest uses for the engine's test database.
PG_ADMIN_URL = os.environ.get(
    "KAZI_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def label_studio() -> Iterator[LabelStudioServer]:
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
