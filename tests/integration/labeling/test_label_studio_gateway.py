"""``LabelStudioGateway`` against a real Label Studio (``conftest.label_studio``).

Timings on the dev machine (two shared cores, other suites running): 1,200 tasks with
predictions import in ~3 s; 10,000 in 29 to 49 s (batches of 500).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from label_studio_sdk import LabelStudio

from engine.domain.labeling_payload import (
    annotation_result_from_answer,
    answer_from_annotation,
    draft_prediction,
    ls_task,
    task_data,
)
from engine.labeling.label_configs import render_label_config
from engine.labeling.label_studio_gateway import (
    WEBHOOK_SECRET_HEADER,
    LabelStudioGateway,
    LabelStudioRejected,
    LabelStudioUnavailable,
)
from engine.labeling.label_studio_server import LabelStudioServer, free_port

pytestmark = pytest.mark.slow

WORKER_PASSWORD = "Worker-pass-2024"
WORDS = [
    {"word": "the", "start": 0.0, "end": 0.2, "probability": 0.95, "low_confidence": False},
    {"word": "quick", "start": 0.2, "end": 0.5, "probability": 0.31, "low_confidence": True},
    {"word": "fox", "start": 0.5, "end": 0.9, "probability": 0.88, "low_confidence": False},
]


def transcription_tasks(prefix: str, count: int) -> list[dict[str, Any]]:
    prediction = draft_prediction("the quick fox", "faster-whisper-test", 0.7)
    return [
        ls_task(
            task_data(
                "transcription", f"http://127.0.0.1/m/{prefix}{i}.wav", None, WORDS, f"{prefix}{i}"
            ),
            [prediction],
        )
        for i in range(count)
    ]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def gateway(label_studio: LabelStudioServer) -> LabelStudioGateway:
    return LabelStudioGateway(label_studio.url, label_studio.token)


@pytest.fixture(scope="module")
def sdk(label_studio: LabelStudioServer) -> LabelStudio:
    return LabelStudio(base_url=label_studio.url, api_key=label_studio.token)


@pytest.fixture(scope="module")
def workers(gateway: LabelStudioGateway) -> list[tuple[int, str]]:
    return [gateway.sign_up_worker(f"{unique(name)}@kazi.local", WORKER_PASSWORD) for name in "ab"]


@pytest.mark.parametrize(
    ("kind", "labels"),
    [("transcription", []), ("image_classification", ["cat", "dog"]), ("image_boxes", ["car"])],
)
def test_project_per_rendered_config(
    gateway: LabelStudioGateway, sdk: LabelStudio, kind: str, labels: list[str]
) -> None:
    project_id = gateway.create_project(f"kazi {kind}", render_label_config(kind, labels), "r0")
    project = sdk.projects.get(id=project_id)
    assert project.maximum_annotations == 1
    assert project.show_skip_button is False
    assert project.sampling == "Sequential sampling"
    assert project.description == "r0"
    # The data keys task_data writes are the ones the config reads (import checks them).
    task = ls_task(task_data(kind, "http://127.0.0.1/m/x", "draft", WORDS, "k1"))
    if kind == "transcription":
        task["predictions"] = [draft_prediction("the quick fox", "m", 0.5)]
    assert len(gateway.import_tasks(project_id, [task])) == 1
    [stored] = list(sdk.tasks.list(project=project_id))
    assert stored.data is not None and stored.data["kazi_task_id"] == "k1"
    if kind == "transcription":
        assert stored.data["draft_html"] == "the <mark>quick</mark> fox"
        assert (
            stored.predictions and stored.predictions[0].result == task["predictions"][0]["result"]
        )


def test_bad_config_and_short_title_are_refused(gateway: LabelStudioGateway) -> None:
    with pytest.raises(LabelStudioRejected) as caught:
        gateway.create_project(
            "kazi bad",
            "<View><Choices name='x' toName='nowhere'><Choice value='a'/></Choices></View>",
        )
    assert caught.value.status_code == 400
    assert "nowhere" in caught.value.message
    with pytest.raises(ValueError, match="3 characters"):
        gateway.create_project("ab", render_label_config("transcription", []))


def test_import_returns_ids_in_input_order_and_skips_what_is_there(
    gateway: LabelStudioGateway,
) -> None:
    project_id = gateway.create_project("kazi import order", render_label_config("transcription"))
    tasks = transcription_tasks("o", 1200)
    # A first import that got only part of the way (two batches of 500 landed).
    first = gateway.import_tasks(project_id, tasks[:1000], batch_size=500)
    existing = gateway.existing_task_ids(project_id)
    assert existing == {f"o{i}": first[i] for i in range(1000)}

    ids = gateway.import_tasks(project_id, tasks, batch_size=500, already=existing)
    assert ids[:1000] == first
    assert len(set(ids)) == 1200
    assert gateway.project_task_count(project_id) == 1200
    # Order: the id Label Studio gave each task is the one returned at its input position.
    assert gateway.existing_task_ids(project_id) == {f"o{i}": ids[i] for i in range(1200)}
    # Everything known: nothing is sent.
    again = gateway.import_tasks(project_id, tasks, already=gateway.existing_task_ids(project_id))
    assert again == ids
    assert gateway.project_task_count(project_id) == 1200


def test_timed_out_import_is_finished_without_duplicates(
    label_studio: LabelStudioServer, gateway: LabelStudioGateway
) -> None:
    project_id = gateway.create_project("kazi import retry", render_label_config("transcription"))
    tasks = transcription_tasks("r", 1000)
    # A 500-task batch takes Label Studio about a second; the client gives up long before.
    impatient = LabelStudioGateway(label_studio.url, label_studio.token, timeout=0.25)
    with pytest.raises(LabelStudioUnavailable):
        impatient.import_tasks(project_id, tasks, batch_size=500)
    # The server finishes the batch it was sent even though the client gave up.
    count, deadline = -1, time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = gateway.project_task_count(project_id)
        if now == count and now > 0:
            break
        count = now
    assert count == 500
    ids = gateway.import_tasks(project_id, tasks, already=gateway.existing_task_ids(project_id))
    assert len(set(ids)) == 1000
    assert gateway.project_task_count(project_id) == 1000


def test_import_refuses_tasks_without_kazi_id(gateway: LabelStudioGateway) -> None:
    with pytest.raises(ValueError, match="kazi_task_id"):
        gateway.import_tasks(1, [{"data": {"audio": "x"}}])
    duplicate = transcription_tasks("d", 1) * 2
    with pytest.raises(ValueError, match="repeat"):
        gateway.import_tasks(1, duplicate)


def test_workers_annotate_and_annotations_come_back(
    gateway: LabelStudioGateway, workers: list[tuple[int, str]]
) -> None:
    (user_a, token_a), (user_b, token_b) = workers
    assert user_a != user_b and token_a != token_b
    project_id = gateway.create_project("kazi annotations", render_label_config("transcription"))
    ids = gateway.import_tasks(project_id, transcription_tasks("a", 3))
    answer_a = annotation_result_from_answer("transcription", {"text": "the quick fox"})
    answer_b = annotation_result_from_answer("transcription", {"text": "the thick fox"})
    made_a = gateway.for_user(token_a).annotate(ids[0], answer_a, lead_time=12.5)
    made_b = gateway.for_user(token_b).annotate(ids[0], answer_b, lead_time=None)
    made_c = gateway.for_user(token_b).annotate(ids[2], answer_b, lead_time=3.0)

    rows = {row["id"]: row for row in gateway.annotations(project_id)}
    assert set(rows) == {made_a, made_b, made_c}
    assert (rows[made_a]["task"], rows[made_a]["completed_by"]) == (ids[0], user_a)
    assert (rows[made_b]["task"], rows[made_b]["completed_by"]) == (ids[0], user_b)
    assert rows[made_c]["task"] == ids[2]
    assert rows[made_a]["lead_time"] == 12.5
    assert rows[made_c]["lead_time"] == 3.0
    assert all(row["was_cancelled"] is False for row in rows.values())
    assert all(row["created_at"] and row["updated_at"] for row in rows.values())
    text = answer_from_annotation("transcription", rows[made_b]["result"])
    assert text == {"text": "the thick fox"}


def test_box_answers_round_trip_through_label_studio(
    gateway: LabelStudioGateway, workers: list[tuple[int, str]]
) -> None:
    project_id = gateway.create_project("kazi boxes", render_label_config("image_boxes", ["car"]))
    [task_id] = gateway.import_tasks(
        project_id, [ls_task(task_data("image_boxes", "http://127.0.0.1/t.png", None, None, "b"))]
    )
    answer = {"boxes": [{"label": "car", "x": 12.5, "y": 40.0, "w": 100.25, "h": 33.0}]}
    result = annotation_result_from_answer("image_boxes", answer, (640, 480))
    gateway.for_user(workers[0][1]).annotate(task_id, result, lead_time=8.0)
    [row] = list(gateway.annotations(project_id))
    assert answer_from_annotation("image_boxes", row["result"], (640, 480)) == answer


def test_sign_up_again_logs_in(gateway: LabelStudioGateway, workers: list[tuple[int, str]]) -> None:
    email = f"{unique('again')}@kazi.local"
    first = gateway.sign_up_worker(email, WORKER_PASSWORD)
    assert gateway.sign_up_worker(email, WORKER_PASSWORD) == first
    with pytest.raises(LabelStudioRejected, match="could not sign up"):
        gateway.sign_up_worker(email, "Another-pass-2024")


def test_large_project_annotations_are_paged(
    gateway: LabelStudioGateway, workers: list[tuple[int, str]]
) -> None:
    """More annotated tasks than one export chunk (500): every annotation comes back once."""
    user_id = workers[0][0]
    project_id = gateway.create_project(
        "kazi many annotations", render_label_config("transcription")
    )
    result = annotation_result_from_answer("transcription", {"text": "the quick fox"})
    tasks = transcription_tasks("m", 1100)
    for task in tasks[:1050]:  # imported with annotations: the fast way to make many
        task["annotations"] = [{"result": result, "completed_by": user_id, "lead_time": 2.0}]
    ids = gateway.import_tasks(project_id, tasks)
    rows = list(gateway.annotations(project_id))
    assert sorted(row["task"] for row in rows) == sorted(ids[:1050])
    assert {row["completed_by"] for row in rows} == {user_id}


class _Recorder(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], dict[str, Any]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((dict(self.headers), json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def webhook_receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], dict[str, Any]]]]]:
    received: list[tuple[dict[str, str], dict[str, Any]]] = []
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), type("Recorder", (_Recorder,), {"received": received})
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/ls-hook", received
    server.shutdown()
    server.server_close()


def test_webhook_registered_once_and_delivers_the_secret(
    gateway: LabelStudioGateway,
    sdk: LabelStudio,
    workers: list[tuple[int, str]],
    webhook_receiver: tuple[str, list[tuple[dict[str, str], dict[str, Any]]]],
) -> None:
    url, received = webhook_receiver
    project_id = gateway.create_project("kazi webhook", render_label_config("transcription"))
    hook = gateway.register_webhook(project_id, url, "s3cret")
    assert gateway.register_webhook(project_id, url, "s3cret") == hook
    # A new secret updates the same hook rather than adding one.
    assert gateway.register_webhook(project_id, url, "rotated") == hook
    hooks = [h for h in sdk.webhooks.list(project=str(project_id)) if h.project == project_id]
    assert [h.id for h in hooks] == [hook]
    assert sorted(hooks[0].actions or []) == ["ANNOTATION_CREATED", "ANNOTATION_UPDATED"]

    [task_id] = gateway.import_tasks(project_id, transcription_tasks("w", 1))
    result = annotation_result_from_answer("transcription", {"text": "the fox"})
    annotation_id = gateway.for_user(workers[1][1]).annotate(task_id, result, lead_time=1.0)
    deadline = time.monotonic() + 30
    while not received and time.monotonic() < deadline:
        time.sleep(0.2)
    assert received, "no webhook delivery within 30 s"
    headers, body = received[0]
    assert {k.lower(): v for k, v in headers.items()}[WEBHOOK_SECRET_HEADER.lower()] == "rotated"
    assert body["action"] == "ANNOTATION_CREATED"
    assert body["annotation"]["id"] == annotation_id
    assert body["task"]["data"]["kazi_task_id"] == "w0"


def test_errors_say_unavailable_or_rejected(
    label_studio: LabelStudioServer, gateway: LabelStudioGateway
) -> None:
    with pytest.raises(LabelStudioUnavailable):
        LabelStudioGateway(
            f"http://127.0.0.1:{free_port()}", "token", timeout=5
        ).project_task_count(1)
    with pytest.raises(LabelStudioRejected) as caught:
        LabelStudioGateway(label_studio.url, "not-a-token").project_task_count(1)
    assert caught.value.status_code == 401
    project_id = gateway.create_project("kazi delete me", render_label_config("transcription"))
    gateway.delete_project(project_id)
    with pytest.raises(LabelStudioRejected) as caught:
        gateway.project_task_count(project_id)
    assert caught.value.status_code == 404


def test_ten_thousand_tasks_import(gateway: LabelStudioGateway) -> None:
    """Measured: 29 to 49 s for 10,000 tasks with predictions (batches of 500), 2 shared cores."""
    project_id = gateway.create_project("kazi 10k", render_label_config("transcription"))
    started = time.monotonic()
    ids = gateway.import_tasks(project_id, transcription_tasks("t", 10_000))
    elapsed = time.monotonic() - started
    assert len(set(ids)) == 10_000
    assert gateway.project_task_count(project_id) == 10_000
    assert elapsed < 120, f"10,000 tasks took {elapsed:.0f} s"
    gateway.delete_project(project_id)
