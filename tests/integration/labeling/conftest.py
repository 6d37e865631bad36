"""Label Studio tests use the session fixture ``label_studio`` from ``tests/conftest.py``; the
engine side (API for webhooks, a Celery worker with the Label Studio settings) is per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.labeling.engine_stack import EngineStack


@pytest.fixture(scope="module")
def stack(label_studio, pg_database) -> Iterator[EngineStack]:  # type: ignore[no-untyped-def]
    s = EngineStack(label_studio)
    s.start_api()
    s.start_worker()
    try:
        yield s
    finally:
        s.stop()
