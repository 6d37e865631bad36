"""An API whose database, broker or object store is down: the real adapters, pointed at a
loopback port where nothing listens."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.browser import free_port


def client_for(ctx: Any) -> TestClient:
    from engine.api.app import create_app

    # The 500 handler's response is what a client gets; do not re-raise it into the test.
    return TestClient(create_app(ctx), raise_server_exceptions=False)


def database_down(ctx: Any) -> Any:
    from engine.db.session import get_sessionmaker

    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/kazi_nothing_here"
    return dataclasses.replace(ctx, sessions=get_sessionmaker(url))


def broker_down(ctx: Any) -> Any:
    from engine.pipeline.task_queue import CeleryTaskQueue

    settings = ctx.settings.model_copy(update={"broker_url": f"redis://127.0.0.1:{free_port()}/0"})
    return dataclasses.replace(ctx, queue=CeleryTaskQueue(settings))


def store_down(ctx: Any) -> Any:
    from engine.storage.s3_store import S3ObjectStore

    store = S3ObjectStore(
        f"127.0.0.1:{free_port()}", "key", "secret-key", "kazi", secure=False, region="us-east-1"
    )
    return dataclasses.replace(ctx, store=store)


@pytest.fixture(scope="module")
def api_without_database(ctx: Any) -> Iterator[TestClient]:
    with client_for(database_down(ctx)) as client:
        yield client
