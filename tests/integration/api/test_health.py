"""Liveness needs nothing but the process; readiness checks the database, the broker and the
object store for real, and says which one failed."""

from __future__ import annotations

import dataclasses
import socket
from typing import Any

import jsonschema
import kombu.exceptions
import pytest

from tests.browser import free_port
from tests.integration.api.conftest import broker_down, client_for, database_down, store_down


def _validate_documented(api: Any, path: str, status: str, body: Any) -> None:
    document = api.get("/openapi.json").json()
    responses = document["paths"][path]["get"]["responses"]
    schema = responses[status]["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator({**schema, "components": document["components"]}).validate(body)


@pytest.mark.parametrize("path", ["/health/live", "/health"])
def test_live_answers_with_the_database_up_or_down(api, api_without_database, path):
    for client in (api, api_without_database):
        resp = client.get(path)
        assert resp.status_code == 200
        assert resp.json() == {"status": "ok"}


def test_ready_checks_every_dependency_on_the_test_stack(api):
    resp = api.get("/health/ready")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "broker", "object_store"}
    assert {check["status"] for check in body["checks"].values()} == {"ok"}
    _validate_documented(api, "/health/ready", "200", body)


@pytest.mark.parametrize(
    ("break_it", "failed"),
    [(database_down, "database"), (broker_down, "broker"), (store_down, "object_store")],
    ids=["database down", "broker down", "object store down"],
)
def test_ready_is_503_naming_the_dependency_that_is_down(ctx, break_it, failed):
    with client_for(break_it(ctx)) as api:
        resp = api.get("/health/ready")
        assert resp.status_code == 503, resp.text
        assert int(resp.headers["retry-after"]) > 0
        body = resp.json()
        assert body["status"] == "not_ready"
        assert body["code"] == "not_ready"
        assert failed in body["detail"]
        statuses = {name: check["status"] for name, check in body["checks"].items()}
        assert statuses == {
            name: "failed" if name == failed else "ok"
            for name in ("database", "broker", "object_store")
        }
        assert body["checks"][failed]["error"]
        _validate_documented(api, "/health/ready", "503", body)


def test_health_routes_are_public(api):
    document = api.get("/openapi.json").json()
    for path in ("/health", "/health/live", "/health/ready"):
        assert document["paths"][path]["get"]["security"] == []


@pytest.mark.parametrize("broker", ["filesystem", "redis"])
def test_broker_ping_succeeds_on_a_working_broker(ctx, tmp_path, broker):
    from engine.pipeline.task_queue import CeleryTaskQueue

    # The test stack's broker is Redis; an empty URL is the embedded filesystem broker.
    url = ctx.settings.broker_url if broker == "redis" else ""
    settings = ctx.settings.model_copy(update={"broker_url": url, "var_dir": tmp_path})
    assert settings.resolved_broker_url().startswith(f"{broker}://")
    CeleryTaskQueue(settings).ping()


def test_broker_ping_fails_when_nothing_listens(ctx):
    from engine.pipeline.task_queue import CeleryTaskQueue

    settings = ctx.settings.model_copy(update={"broker_url": f"redis://127.0.0.1:{free_port()}/0"})
    with pytest.raises(kombu.exceptions.OperationalError):
        CeleryTaskQueue(settings).ping()


def test_ready_gives_up_on_a_database_that_never_answers(ctx):
    """A server that takes the connection and then says nothing (a hung host): the check is
    abandoned after its timeout instead of holding the probe."""
    from engine.db.session import get_sessionmaker

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # the kernel completes handshakes; nothing ever reads or answers
        url = f"postgresql+psycopg://postgres@127.0.0.1:{silent.getsockname()[1]}/x"
        hung = dataclasses.replace(ctx, sessions=get_sessionmaker(url))
        with client_for(hung) as api:
            resp = api.get("/health/ready")
    assert resp.status_code == 503, resp.text
    database = resp.json()["checks"]["database"]
    assert database["status"] == "failed"
    assert database["error"].startswith("no answer in")
