"""The webhook route checks the shared secret before it reads the body, caps the body, and
files a webhook's annotations in one unit of work."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient

from engine.label_studio_sync import endpoints
from engine.label_studio_sync.endpoints import WEBHOOK_BODY_LIMIT, webhook_annotations
from engine.settings import Settings
from tests.unit.label_studio_sync.fakes import FakeAnswers, FakeRefused
from tests.unit.publishing.fakes import (
    SERVER,
    FakeJobRepository,
    FakePublishRepository,
    StepUnitOfWork,
)

T = TypeVar("T")
SECRET = "hook-secret"
URL = "/v1/hooks/label-studio"


class FakeContext:
    """The part of the engine context the route uses."""

    def __init__(self) -> None:
        self.settings = Settings(webhook_secret=SECRET, label_studio_url=SERVER)
        jobs = FakeJobRepository()
        self.uow = StepUnitOfWork(
            jobs=jobs, publishing=FakePublishRepository(jobs), work=FakeAnswers(),
            refused_annotations=FakeRefused(),
        )  # fmt: skip
        self.units_of_work = 0

    def in_unit_of_work(self, use_case: Callable[..., T], *args: Any) -> T:
        self.units_of_work += 1
        with self.uow:
            result = use_case(self.uow, *args)
            self.uow.commit()
            return result


@pytest.fixture
def ctx() -> FakeContext:
    return FakeContext()


@pytest.fixture
def client(ctx: FakeContext) -> TestClient:
    app = FastAPI()
    app.include_router(endpoints.router)
    app.state.ctx = ctx
    return TestClient(app)


def _created(annotation_id: int, task: int, project: int) -> dict[str, Any]:
    return {"action": "ANNOTATION_CREATED", "annotation": {"id": annotation_id, "task": task},
            "project": {"id": project}}  # fmt: skip


def test_without_the_secret_nothing_is_read(client: TestClient, ctx: FakeContext) -> None:
    garbage = b"{not json" * 10
    oversized = b" " * (WEBHOOK_BODY_LIMIT + 1)
    wrong = {"X-Kazi-Webhook-Secret": "nope"}
    for body, headers in [(garbage, {}), (garbage, wrong), (oversized, wrong)]:
        assert client.post(URL, content=body, headers=headers).status_code == 401
    assert ctx.units_of_work == 0


def test_with_the_secret_a_bad_body_is_refused(client: TestClient, ctx: FakeContext) -> None:
    ok = {"X-Kazi-Webhook-Secret": SECRET}
    assert client.post(URL, content=b"{not json", headers=ok).status_code == 400
    assert client.post(URL, content=b"[1, 2]", headers=ok).status_code == 400
    too_big = json.dumps({"action": "X", "pad": " " * WEBHOOK_BODY_LIMIT}).encode()
    assert client.post(URL, content=too_big, headers=ok).status_code == 413
    no_ids = {"action": "ANNOTATION_CREATED", "annotation": {"id": 1}}
    assert client.post(URL, json=no_ids, headers=ok).status_code == 400
    assert ctx.units_of_work == 0


def test_other_actions_are_ignored(client: TestClient) -> None:
    ok = {"X-Kazi-Webhook-Secret": SECRET}
    reply = client.post(URL, json={"action": "PROJECT_UPDATED"}, headers=ok)
    assert reply.json() == {"status": "ignored", "action": "PROJECT_UPDATED"}


def test_annotations_are_filed_in_one_unit_of_work(client: TestClient, ctx: FakeContext) -> None:
    ok = {"X-Kazi-Webhook-Secret": SECRET}
    reply = client.post(URL, json=_created(77, 555, 9), headers=ok)
    assert reply.status_code == 200
    # Task 555 was never published: left for reconciliation, not refused.
    assert reply.json()["results"] == [
        {"annotation": 77, "status": "ignored", "reason": "not a task the engine published (yet)"}
    ]
    assert ctx.units_of_work == 1 and ctx.uow.commits == 1


def test_a_bulk_webhook_names_each_annotation_with_its_task() -> None:
    payload = {
        "action": "ANNOTATIONS_CREATED",
        "annotations": [{"id": 1, "task": {"id": 10}}, {"id": 2, "task": 11}, {"id": 3}],
        "project": 5,
        "task": {"id": 12},
    }
    found = [(a.ls_project_id, a.ls_task_id, a.annotation["id"]) for a in
             webhook_annotations(payload)]  # fmt: skip
    assert found == [(5, 10, 1), (5, 11, 2), (5, 12, 3)]
    with pytest.raises(HTTPException) as refused:
        webhook_annotations({"annotation": {"id": True, "task": 1}, "project": 5})
    assert refused.value.status_code == 400
