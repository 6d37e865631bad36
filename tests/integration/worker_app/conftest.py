"""The worker app against the test database: an HTTPS test client (the session cookie is
Secure) and workers logged in with real one-time codes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient


@dataclass(frozen=True)
class AppWorker:
    id: str
    handle: str
    api_auth: dict[str, str]  # the worker-API key, to compare with what the app shows


@pytest.fixture(scope="module")
def app_client(ctx: Any) -> Iterator[TestClient]:
    from engine.api.app import create_app

    with TestClient(
        create_app(ctx), base_url="https://testserver", raise_server_exceptions=False
    ) as client:
        yield client


@pytest.fixture
def make_worker(ctx: Any) -> Callable[..., AppWorker]:
    from engine.workforce.service import register_worker

    def make(tier: str = "trainee") -> AppWorker:
        w = ctx.in_unit_of_work(register_worker, f"app-{uuid.uuid4().hex[:10]}", tier)
        return AppWorker(w.id, w.handle, {"Authorization": f"Bearer {w.api_key}"})

    return make


def issue_code(ctx: Any, handle: str) -> str:
    from engine.worker_app.sessions import issue_login_code

    code, _ = ctx.in_unit_of_work(issue_login_code, handle)
    return str(code)


def log_in(client: TestClient, ctx: Any, handle: str) -> str:
    """Log ``client`` in as the worker (its cookie jar keeps the session); the CSRF token."""
    client.cookies.clear()
    resp = client.post("/app/login", data={"code": issue_code(ctx, handle)}, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    return csrf_of(client)


def csrf_of(client: TestClient) -> str:
    import re

    page = client.get("/app")
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)
