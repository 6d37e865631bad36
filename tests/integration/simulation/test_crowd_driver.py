"""Crowd drivers against a small in-process fake of the worker API (the real one is tested in
tests/integration/work), and the Label Studio path against a real Label Studio server.

The fake keeps the worker API's contract: the real request and response models
(``schemas.work``), a held lease handed back by ``/next``, 204 when nothing is waiting,
submits idempotent by ``client_answer_id`` (200 replayed), 404/409 for unknown or finished
leases. Failures are injected per endpoint: ``503`` (refused before anything happens) and
``503-after-commit`` (stored, but the response is lost).
"""

from __future__ import annotations

import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import pytest
import uvicorn
from fastapi import Body, FastAPI, Header, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from engine.domain.labeling_payload import answer_from_annotation, draft_prediction, ls_task
from engine.domain.labeling_payload import task_data as ls_task_data
from engine.domain.scoring import word_error_rate
from engine.labeling.label_configs import render_label_config
from engine.labeling.label_studio_gateway import LabelStudioGateway
from engine.labeling.label_studio_server import LabelStudioServer
from engine.simulation import crowd_driver
from engine.simulation.crowd_driver import (
    CrowdDriverError,
    answer_via_label_studio,
    answer_via_worker_api,
)
from engine.simulation.error_models import default_crowd
from schemas.work import DraftView, LeaseView, NextRequest, SubmitRequest, SubmitResponse
from tests.media_samples import png_bytes

CAREFUL, _, AVERAGE, _, POOR = default_crowd(3)
WORKER_KEY = "kazi_w_test_key"
JFK = (
    "And so my fellow Americans, ask not what your country can do for you, ask what you can "
    "do for your country."
)
# A machine draft with two mistakes, as tiny.en might make them.
JFK_DRAFT = (
    "and so my fellow americans ask not what your county can do for you ask what you can do "
    "for you country"
)


# --- the fake worker API -----------------------------------------------------------------------


@dataclass
class FakeTask:
    task_id: str
    kind: str
    truth: dict[str, Any]
    job_id: str = "job-a"
    labels: list[str] = field(default_factory=list)
    draft: str | None = None
    width: int | None = None
    height: int | None = None
    full: bool = False  # no answer slot left (a late submit is refused with 409)


@dataclass
class FakeLease:
    lease_id: str
    task_id: str
    worker: str
    outcome: str | None = None  # None (live), "submitted", "released"


class FakeWorkerApi:
    def __init__(self, tasks: list[FakeTask], workers: Mapping[str, str] | None = None) -> None:
        self.tasks = {t.task_id: t for t in tasks}
        self.workers = dict(workers or {WORKER_KEY: "w1"})
        self.paused: set[str] = set()
        self.leases: dict[str, FakeLease] = {}
        self.answers: dict[tuple[str, str], dict[str, Any]] = {}  # (task, worker) -> answer
        self.by_client_id: dict[tuple[str, str], int] = {}
        self.submit_calls: list[tuple[str, str]] = []  # (lease id, client_answer_id)
        self.release_calls: list[str] = []
        self.next_bodies: list[dict[str, Any]] = []
        self.failures: dict[str, list[str]] = {"next": [], "submit": [], "release": []}
        self.lock = threading.Lock()

    def _worker(self, authorization: str | None) -> str:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or key not in self.workers:
            raise HTTPException(401, "invalid worker key")
        return self.workers[key]

    def _failure(self, endpoint: str) -> str | None:
        queue = self.failures[endpoint]
        return queue.pop(0) if queue else None

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/work/next", response_model=LeaseView)
        def next_task(
            authorization: Annotated[str | None, Header()] = None,
            body: Annotated[NextRequest | None, Body()] = None,
        ) -> Any:
            with self.lock:
                worker = self._worker(authorization)
                self.next_bodies.append((body or NextRequest()).model_dump(exclude_unset=True))
                if self._failure("next") == "503":
                    return Response(status_code=503)
                if worker in self.paused:
                    raise HTTPException(403, "your account is paused")
                job_id = body.job_id if body else None
                held = next(
                    (x for x in self.leases.values() if x.worker == worker and x.outcome is None),
                    None,
                )
                if held is None:
                    task = next((t for t in self.tasks.values() if self._free(t, worker, job_id)),
                                None)  # fmt: skip
                    if task is None:
                        return Response(status_code=204)
                    held = FakeLease(f"lease-{uuid.uuid4().hex[:8]}", task.task_id, worker)
                    self.leases[held.lease_id] = held
                return self._view(held)

        @app.post("/v1/work/{lease_id}/submit", response_model=SubmitResponse, status_code=201)
        def submit(
            lease_id: str,
            body: SubmitRequest,
            response: Response,
            authorization: Annotated[str | None, Header()] = None,
        ) -> Any:
            with self.lock:
                worker = self._worker(authorization)
                self.submit_calls.append((lease_id, body.client_answer_id))
                failure = self._failure("submit")
                if failure == "503":
                    return Response(status_code=503)
                if (worker, body.client_answer_id) in self.by_client_id:
                    response.status_code = 200
                    answer_id = self.by_client_id[(worker, body.client_answer_id)]
                    return SubmitResponse(answer_id=answer_id, replayed=True)
                lease = self.leases.get(lease_id)
                if lease is None or lease.worker != worker:
                    raise HTTPException(404, f"no lease {lease_id} for this worker")
                if lease.outcome is not None:
                    raise HTTPException(409, f"this lease was {lease.outcome} already")
                if failure == "409-full":
                    self.tasks[lease.task_id].full = True
                    lease.outcome = "expired"
                    raise HTTPException(409, "your lease ran out and the task has all answers")
                assert body.time_spent_seconds is not None and body.time_spent_seconds > 0
                self.answers[(lease.task_id, worker)] = body.answer
                self.by_client_id[(worker, body.client_answer_id)] = len(self.answers)
                lease.outcome = "submitted"
                if failure == "503-after-commit":
                    return Response(status_code=503)
                return SubmitResponse(answer_id=len(self.answers))

        @app.post("/v1/work/{lease_id}/release")
        def release(
            lease_id: str, authorization: Annotated[str | None, Header()] = None
        ) -> dict[str, str]:
            with self.lock:
                worker = self._worker(authorization)
                self.release_calls.append(lease_id)
                lease = self.leases.get(lease_id)
                if lease is None or lease.worker != worker:
                    raise HTTPException(404, f"no lease {lease_id} for this worker")
                if lease.outcome == "submitted":
                    raise HTTPException(409, "this lease was submitted")
                lease.outcome = lease.outcome or "released"
                return {"status": "released"}

        return app

    def _free(self, task: FakeTask, worker: str, job_id: str | None) -> bool:
        leased = any(x.task_id == task.task_id and x.outcome is None for x in self.leases.values())
        return (
            (job_id is None or task.job_id == job_id)
            and not task.full
            and not leased
            and (task.task_id, worker) not in self.answers
        )

    def _view(self, lease: FakeLease) -> LeaseView:
        task = self.tasks[lease.task_id]
        draft = (
            DraftView(text=task.draft, words=[], model_version="tiny.en") if task.draft else None
        )
        return LeaseView(
            lease_id=lease.lease_id,
            task_id=task.task_id,
            job_id=task.job_id,
            kind=task.kind,
            expires_at=datetime.now(UTC) + timedelta(minutes=15),
            media_url=f"http://127.0.0.1/media/{task.task_id}",
            media_type="audio" if task.kind == "transcription" else "image",
            labels=task.labels,
            draft=draft,
            width=task.width,
            height=task.height,
        )

    def truth_for(self, lease: Mapping[str, Any]) -> dict[str, Any] | None:
        return self.tasks[lease["task_id"]].truth


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(app: FastAPI, port: int | None = None, delay: float = 0.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on loopback (after ``delay`` seconds) in a thread."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )

    def run() -> None:
        time.sleep(delay)
        server.run()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not delay:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def mixed_tasks() -> list[FakeTask]:
    return [
        FakeTask("t-audio-1", "transcription", {"text": JFK}, draft=JFK_DRAFT),
        FakeTask("t-audio-2", "transcription", {"text": "the streets were narrow and unpaved"}),
        FakeTask("t-class-1", "image_classification", {"label": "dog"}, labels=["cat", "dog"]),
        FakeTask("t-class-2", "image_classification", {"label": "cat"}, labels=["cat", "dog"]),
        FakeTask(
            "t-boxes-1", "image_boxes",
            {"boxes": [{"label": "car", "x": 30, "y": 20, "w": 120, "h": 60}]},
            labels=["car", "bus"], width=320, height=240,
        ),
    ]  # fmt: skip


# --- the worker API ----------------------------------------------------------------------------


def test_answers_every_task_then_stops_when_nothing_is_waiting() -> None:
    fake = FakeWorkerApi(mixed_tasks())
    with serve(fake.app()) as url:
        answered = answer_via_worker_api(url, WORKER_KEY, AVERAGE, fake.truth_for, random.Random(1))
    assert answered == 5
    assert set(fake.answers) == {(t, "w1") for t in fake.tasks}
    assert len({client_id for _, client_id in fake.submit_calls}) == 5
    text = fake.answers[("t-audio-1", "w1")]["text"]
    assert word_error_rate(JFK, text) < 0.5
    assert fake.answers[("t-class-1", "w1")]["label"] in {"cat", "dog"}
    for box in fake.answers[("t-boxes-1", "w1")]["boxes"]:
        assert box["label"] in {"car", "bus"}
        assert 0 <= box["x"] <= box["x"] + box["w"] <= 320
        assert 0 <= box["y"] <= box["y"] + box["h"] <= 240
    assert fake.next_bodies[-1] == {}


def test_a_503_is_retried_and_a_lost_response_is_not_a_second_answer() -> None:
    fake = FakeWorkerApi(mixed_tasks())
    fake.failures["next"] = ["503", "503"]
    # First submit: stored, but the response is lost; second: refused before anything happens.
    fake.failures["submit"] = ["503-after-commit", "503"]
    with serve(fake.app()) as url:
        answered = answer_via_worker_api(url, WORKER_KEY, CAREFUL, fake.truth_for, random.Random(2))
    assert answered == 5
    assert len(fake.answers) == 5
    tries_per_lease: dict[str, set[str]] = {}
    for lease_id, client_id in fake.submit_calls:
        tries_per_lease.setdefault(lease_id, set()).add(client_id)
    assert len(tries_per_lease) == 5
    # Every retry of a lease carried the lease's one client_answer_id.
    assert all(len(client_ids) == 1 for client_ids in tries_per_lease.values())
    # The first lease was sent three times: stored (response lost), refused, replayed.
    assert len(fake.submit_calls) == 5 + 2


def test_waits_for_an_engine_that_is_still_starting() -> None:
    fake = FakeWorkerApi(mixed_tasks()[:2])
    port = free_port()
    with serve(fake.app(), port=port, delay=0.6) as url:
        answered = answer_via_worker_api(url, WORKER_KEY, POOR, fake.truth_for, random.Random(3))
    assert answered == 2


def test_gives_up_after_the_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crowd_driver, "RETRY_DELAYS_SECONDS", (0.01, 0.01, 0.01))
    fake = FakeWorkerApi(mixed_tasks())
    fake.failures["next"] = ["503"] * 10
    with serve(fake.app()) as url, pytest.raises(CrowdDriverError, match="503"):
        answer_via_worker_api(url, WORKER_KEY, POOR, fake.truth_for, random.Random(3))
    assert len(fake.next_bodies) == 4


def test_a_skipped_task_is_released_and_the_worker_stops_when_it_comes_back() -> None:
    tasks = mixed_tasks()
    fake = FakeWorkerApi(tasks)

    def truth_for(lease: Mapping[str, Any]) -> dict[str, Any] | None:
        return None if lease["task_id"] == "t-boxes-1" else fake.truth_for(lease)

    with serve(fake.app()) as url:
        answered = answer_via_worker_api(url, WORKER_KEY, AVERAGE, truth_for, random.Random(4))
    assert answered == 4
    assert ("t-boxes-1", "w1") not in fake.answers
    boxes_leases = [x for x in fake.leases.values() if x.task_id == "t-boxes-1"]
    assert len(boxes_leases) == 2 and all(x.outcome == "released" for x in boxes_leases)


def test_stop_after_job_filter_and_a_refused_late_submit() -> None:
    tasks = mixed_tasks()
    tasks[3].job_id = tasks[4].job_id = "job-b"
    fake = FakeWorkerApi(tasks)
    fake.failures["submit"] = ["409-full"]
    with serve(fake.app()) as url:
        first = answer_via_worker_api(
            url, WORKER_KEY, CAREFUL, fake.truth_for, random.Random(5), job_id="job-a"
        )
        assert all(body == {"job_id": "job-a"} for body in fake.next_bodies)
        # The first task's submit was refused (the task filled up): not counted, not stored.
        assert first == 2 and ("t-audio-1", "w1") not in fake.answers
        second = answer_via_worker_api(
            url, WORKER_KEY, CAREFUL, fake.truth_for, random.Random(6), stop_after=1
        )
    assert second == 1 and len(fake.answers) == 3


def test_a_paused_worker_stops_and_a_bad_key_is_an_error() -> None:
    fake = FakeWorkerApi(mixed_tasks())
    fake.paused.add("w1")
    with serve(fake.app()) as url:
        assert answer_via_worker_api(url, WORKER_KEY, POOR, fake.truth_for, random.Random(7)) == 0
        with pytest.raises(CrowdDriverError, match="401"):
            answer_via_worker_api(url, "wrong", POOR, fake.truth_for, random.Random(7))


# --- Label Studio (real) -----------------------------------------------------------------------

IMAGE_SIZE = (320, 240)
LS_WORKER_PASSWORD = "Simulated-Worker-2024!"


class FakeStartLinks:
    """The engine's start link for one worker: hands out Label Studio tasks in order, moving on
    once the worker's annotation is in Label Studio (as the real engine does on the webhook;
    ``webhook_lag`` makes it notice a task's annotation only on a later call), and serves the
    task image."""

    def __init__(self, ls_url: str, admin_token: str, user_id: int) -> None:
        self.ls_url, self.user_id = ls_url, user_id
        self.admin = httpx.Client(
            base_url=ls_url, headers={"Authorization": f"Token {admin_token}"}, timeout=30
        )
        self.queue: list[tuple[int, int]] = []  # (project id, task id)
        self.failures: list[str] = []
        self.opened: list[int] = []
        self.webhook_lag: dict[int, int] = {}  # task id -> calls before its answer is heard of

    def _answered(self, task_id: int) -> bool:
        task = self.admin.get(f"/api/tasks/{task_id}").json()
        if task.get("annotations") and self.webhook_lag.get(task_id, 0) > 0:
            self.webhook_lag[task_id] -= 1
            return False
        # A task read from Label Studio names each annotation's author as {"id": ..., ...}. A
        # skip (cancelled annotation) is no answer: the engine keeps the lease.
        authors = [
            a["completed_by"]["id"] for a in task.get("annotations", []) if not a["was_cancelled"]
        ]
        return self.user_id in authors

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/work/label-studio/start")
        def start(worker: str, signature: str) -> Response:
            if self.failures:
                return Response(status_code=int(self.failures.pop(0)))
            while self.queue and self._answered(self.queue[0][1]):
                self.queue.pop(0)
            if not self.queue:
                return HTMLResponse("<h1>No work for now</h1>")
            project_id, task_id = self.queue[0]
            self.opened.append(task_id)
            return RedirectResponse(
                f"{self.ls_url}/projects/{project_id}/data?task={task_id}", status_code=303
            )

        @app.get("/media/photo.png")
        def photo() -> Response:
            return Response(png_bytes(*IMAGE_SIZE), media_type="image/png")

        return app


class LabelStudioProxy:
    """Forwards to the real Label Studio; ``lose_annotation_responses`` annotation posts are
    stored there but answered 503 here, as when a response is lost on the way back."""

    def __init__(self, ls_url: str) -> None:
        self.ls_url = ls_url
        self.lose_annotation_responses = 0
        self.annotation_posts: list[str] = []

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/{path:path}", methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
        async def forward(path: str, request: Request) -> Response:
            headers = {
                k: v for k, v in request.headers.items() if k in ("authorization", "content-type")
            }
            async with httpx.AsyncClient(base_url=self.ls_url, timeout=30) as upstream:
                answer = await upstream.request(
                    request.method,
                    f"/{path}",
                    params=request.url.query,
                    content=await request.body(),
                    headers=headers,
                )
            if request.method == "POST" and path.endswith("/annotations/"):
                self.annotation_posts.append(path)
                if self.lose_annotation_responses > 0:
                    self.lose_annotation_responses -= 1
                    return Response(status_code=503)
            return Response(
                answer.content,
                status_code=answer.status_code,
                media_type=answer.headers.get("content-type"),
            )

        return app


def test_label_studio_worker_annotates_each_task_once(
    label_studio: LabelStudioServer,
) -> None:
    gateway = LabelStudioGateway(label_studio.url, label_studio.token)
    suffix = uuid.uuid4().hex[:8]
    user_id, worker_token = gateway.sign_up_worker(f"sim-{suffix}@kazi.local", LS_WORKER_PASSWORD)
    engine = FakeStartLinks(label_studio.url, label_studio.token, user_id)
    truths: dict[str, dict[str, Any]] = {
        "k-audio-1": {"text": JFK},
        "k-audio-2": {"text": "the streets were narrow and unpaved but very fairly clean"},
        "k-boxes-1": {"boxes": [{"label": "car", "x": 40, "y": 30, "w": 150, "h": 90}]},
    }
    seen: list[Mapping[str, Any]] = []

    def truth_for(task: Mapping[str, Any]) -> dict[str, Any] | None:
        seen.append(task)
        return truths.get(task["kazi_task_id"])  # k-audio-skip: no truth, skipped

    proxy = LabelStudioProxy(label_studio.url)
    with serve(engine.app()) as engine_url, serve(proxy.app()) as proxy_url:
        audio_project = gateway.create_project(
            f"sim audio {suffix}", render_label_config("transcription", [])
        )
        draft = JFK_DRAFT
        audio_tasks = [
            ls_task(
                ls_task_data("transcription", f"{engine_url}/media/a{i}.flac", text, None, key),
                [draft_prediction(text, "tiny.en")],
            )
            for i, (key, text) in enumerate(
                [("k-audio-1", draft), ("k-audio-2", "the streets were narrow"),
                 ("k-audio-skip", "not for this worker")]
            )
        ]  # fmt: skip
        audio_ids = gateway.import_tasks(audio_project, audio_tasks)
        boxes_project = gateway.create_project(
            f"sim boxes {suffix}", render_label_config("image_boxes", ["car", "bus"])
        )
        [boxes_id] = gateway.import_tasks(
            boxes_project,
            [ls_task(ls_task_data("image_boxes", f"{engine_url}/media/photo.png", None, None,
                                  "k-boxes-1"))],
        )  # fmt: skip
        engine.queue = [
            (audio_project, audio_ids[0]),
            (boxes_project, boxes_id),
            (audio_project, audio_ids[1]),
            (audio_project, audio_ids[2]),
        ]
        engine.failures = ["503"]  # the engine hiccups once: retried
        # The first task's answer is heard of one call late: the worker must wait, not redo it.
        engine.webhook_lag = {audio_ids[0]: 1}
        # The first annotation is stored but its response is lost: it must not be posted again.
        proxy.lose_annotation_responses = 1
        answered = answer_via_label_studio(
            engine_url,
            "/v1/work/label-studio/start?worker=w1&signature=s",
            proxy_url,
            worker_token,
            AVERAGE,
            truth_for,
            random.Random(8),
        )

    assert answered == 3
    assert [t["kind"] for t in seen] == [
        "transcription", "image_boxes", "transcription", "transcription",
    ]  # fmt: skip
    assert seen[0]["data"]["kazi_task_id"] == "k-audio-1"
    # The first task is opened again while the engine has not heard of its answer; the skipped
    # one comes back because the engine keeps its lease, and the worker stops there.
    assert engine.opened == [
        audio_ids[0], audio_ids[0], boxes_id, audio_ids[1], audio_ids[2], audio_ids[2],
    ]  # fmt: skip
    # One post per task, even for the one whose response was lost.
    assert sorted(proxy.annotation_posts) == sorted(
        f"api/tasks/{i}/annotations/" for i in [*audio_ids, boxes_id]
    )

    audio_rows = {row["task"]: row for row in gateway.annotations(audio_project)}
    assert set(audio_rows) == set(audio_ids)
    for task_id, truth_key in zip(audio_ids[:2], ["k-audio-1", "k-audio-2"], strict=True):
        row = audio_rows[task_id]
        assert row["completed_by"] == user_id and not row["was_cancelled"]
        assert row["lead_time"] > 0
        text = answer_from_annotation("transcription", row["result"])["text"]
        assert word_error_rate(truths[truth_key]["text"], text) < 0.5
    assert audio_rows[audio_ids[2]]["was_cancelled"] is True

    [boxes_row] = list(gateway.annotations(boxes_project))
    assert boxes_row["completed_by"] == user_id
    answer = answer_from_annotation("image_boxes", boxes_row["result"], IMAGE_SIZE)
    for box in answer["boxes"]:
        assert box["label"] in {"car", "bus"}
        assert 0 <= box["x"] <= box["x"] + box["w"] <= IMAGE_SIZE[0]
        assert 0 <= box["y"] <= box["y"] + box["h"] <= IMAGE_SIZE[1]
    # Exactly one annotation per task: nothing was posted twice.
    every_row = list(gateway.annotations(audio_project)) + [boxes_row]
    assert len(every_row) == len({row["task"] for row in every_row}) == 4
