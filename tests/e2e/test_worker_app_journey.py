"""A trainee's whole path through the worker app in a real browser (Debian Chromium), on a
360x740 phone with the network throttled through the Chrome DevTools Protocol (400 kb/s each
way, 400 ms latency):

login with a one-time code -> practice items with the word-level feedback -> the qualification
set -> a real transcription task (a real job: two short LibriSpeech clips, drafted by the real
faster-whisper model; one of them gold) in the light editor: the machine draft is in the text
box, the small Opus copy plays -> the worker edits, goes offline and submits (the answer waits
on the phone, in the outbox) -> back online, the engine files it exactly once.

Every response body the browser received is kept: another worker's answer and the gold
reference never reach this worker's device. Screenshots: tests/artifacts/worker-app-*.png.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import delete, func, select

from tests.browser import (
    ResponseBodies,
    TransferMeter,
    is_audio,
    open_mobile_page,
    serve_in_thread,
    set_offline,
    throttle,
)
from tests.conftest import make_client, wait_for_stage

SAMPLES = Path(__file__).resolve().parents[2] / "engine" / "demo" / "samples" / "speech"
LIBRI = SAMPLES / "librispeech"
TASK_CLIP = LIBRI / "1089-134691-0000.flac"  # 2.1 s: "he could wait no longer"
GOLD_CLIP = LIBRI / "1089-134686-0001.flac"  # 3.3 s: "stuff it into you his belly counselled him"
PRACTICE_CLIPS = (
    (LIBRI / "1089-134691-0001.flac", "For a full hour he had paced up and down waiting"
     " but he could wait no longer"),
    (SAMPLES / "jfk.flac", "And so my fellow Americans ask not what your country can do for"
     " you ask what you can do for your country"),
    (LIBRI / "1089-134691-0000.flac", "He could wait no longer"),
)  # fmt: skip
QUALIFICATION_CLIPS = ((LIBRI / "1089-134691-0000.flac", "He could wait no longer"),)
# Words nobody says in the clips: if they reach the trainee's browser, something leaked.
OTHER_WORKER_TEXT = f"zebra quartz other worker {uuid.uuid4().hex[:8]}"
GOLD_TEXT = f"stuff it into you his belly counselled him goldmark {uuid.uuid4().hex[:8]}"
EDITED = "He could wait no longer, said the trainee."
KBPS, LATENCY_MS = 400, 400
# Answers waiting on the phone (offline_queue.js: IndexedDB "kazi-app", store "outbox").
OUTBOX_SIZE = """() => new Promise((resolve, reject) => {
  const req = indexedDB.open("kazi-app", 1);
  req.onupgradeneeded = () => req.result.createObjectStore("outbox", {keyPath: "client_answer_id"});
  req.onsuccess = () => {
    const count = req.result.transaction("outbox").objectStore("outbox").count();
    count.onsuccess = () => { req.result.close(); resolve(count.result); };
    count.onerror = () => reject(count.error);
  };
  req.onerror = () => reject(req.error);
})"""


@pytest.fixture(scope="module")
def app_url(ctx) -> Iterator[str]:  # type: ignore[no-untyped-def]
    from engine.api.app import create_app

    with serve_in_thread(create_app(ctx)) as url:
        yield url


@pytest.fixture
def training_items(ctx) -> Iterator[list[int]]:  # type: ignore[no-untyped-def]
    """A few practice items and a one-item qualification set, removed afterwards (a
    qualification set gates every new trainee `kazi workers add` makes in later tests)."""
    from engine.db.training_models import TrainingItemRow
    from engine.domain.job_stage import JobKind
    from engine.domain.training_path import TrainingSet
    from engine.training.media import store_training_media
    from engine.training.service import NewTrainingItem, add_item

    made: list[int] = []
    for set_name, clips in ((TrainingSet.PRACTICE, PRACTICE_CLIPS),
                            (TrainingSet.QUALIFICATION, QUALIFICATION_CLIPS)):  # fmt: skip
        for path, text in clips:
            stored = store_training_media(ctx.store, JobKind.TRANSCRIPTION, set_name, path)
            item = ctx.in_unit_of_work(add_item, NewTrainingItem(
                JobKind.TRANSCRIPTION, set_name, stored.media_key, stored.lowres_media_key,
                stored.source_name, {"text": text}))  # fmt: skip
            made.append(int(item.id))
    yield made
    with ctx.sessions() as session, session.begin():
        session.execute(delete(TrainingItemRow).where(TrainingItemRow.id.in_(made)))


def _drafted_job(ctx, worker) -> str:  # type: ignore[no-untyped-def]
    """Two short clips, one of them gold (with a reference nobody would say), two answers a
    task: drafted by the real model in the test's Celery worker."""
    from engine.jobs.intake import IncomingFile, submit_job
    from schemas.jobs import JobSpec

    client_id, _ = make_client(ctx)
    spec = JobSpec.model_validate({
        "kind": "transcription", "overlap": 2, "gold_ratio": 0.99,
        "gold": [{"filename": GOLD_CLIP.name, "text": GOLD_TEXT}],
    })  # fmt: skip
    job_id: str = submit_job(
        ctx.uow(), ctx.store, client_id=client_id, spec=spec,
        files=[IncomingFile(p.name, io.BytesIO(p.read_bytes())) for p in (TASK_CLIP, GOLD_CLIP)],
        max_upload_bytes=10**9, max_files=10,
    )  # fmt: skip
    assert wait_for_stage(ctx, job_id, {"labeling", "failed"}, 600, worker) == "labeling"
    return job_id


def _other_worker_answers(api, ctx, job_id: str) -> None:  # type: ignore[no-untyped-def]
    """Another worker answers every task of the job first (through the worker API)."""
    from engine.workforce.service import register_worker

    other = ctx.in_unit_of_work(register_worker, f"other-{uuid.uuid4().hex[:8]}", "qualified")
    auth = {"Authorization": f"Bearer {other.api_key}"}
    answered = 0
    while (
        r := api.post("/v1/work/next", headers=auth, json={"job_id": job_id})
    ).status_code == 200:
        lease = r.json()
        body = {"client_answer_id": str(uuid.uuid4()), "answer": {"text": OTHER_WORKER_TEXT}}
        done = api.post(f"/v1/work/{lease['lease_id']}/submit", headers=auth, json=body)
        assert done.status_code == 201, done.text
        answered += 1
    assert answered >= 1


def _trainee(ctx) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    from engine.training.service import require_training
    from engine.worker_app.sessions import issue_login_code
    from engine.workforce.service import register_worker

    def make(uow):  # type: ignore[no-untyped-def]
        w = register_worker(uow, f"trainee-{uuid.uuid4().hex[:8]}", "trainee")
        require_training(uow, w.id)
        return w.id, issue_login_code(uow, w.handle)[0]

    worker_id, code = ctx.in_unit_of_work(make)
    return str(worker_id), str(code)


def _expected_text(ctx, item_id: int) -> str:  # type: ignore[no-untyped-def]
    # Items other tests left in the shared database are answered from the database too.
    with ctx.uow() as uow:
        item = uow.training.item(item_id)
    assert item is not None, item_id
    return str(item.expected["text"])


def _train(page: Page, ctx, app_url: str, wp: Any) -> int:  # type: ignore[no-untyped-def]
    """Practice (the first answer has a mistake, to see the diff) and the qualification set,
    through the pages; returns how many practice answers got feedback."""
    page.goto(f"{app_url}/app/training")
    page.click("#training-next")
    feedback_seen = 0
    for _ in range(12):  # practice + qualification, with room for other tests' items
        form = page.locator("#training-form")
        expect(form).to_be_visible()
        item_id = int(form.get_attribute("data-item-id") or 0)
        practice = form.get_attribute("data-set") == "practice"
        expected = _expected_text(ctx, item_id)
        answer = expected
        if practice and feedback_seen == 0:
            answer = expected.rsplit(" ", 1)[0] + " longer ago"  # one word wrong, one extra
        page.fill("#answer-text", answer)
        page.click("#submit")
        page.wait_for_load_state()
        if practice:
            feedback = page.locator("#feedback")
            expect(feedback).to_be_visible()
            if feedback_seen == 0:
                expect(feedback.locator("del").first).to_be_visible()
                expect(feedback.locator("ins").first).to_be_visible()
                assert float(feedback.get_attribute("data-score") or 1) < 1.0
                wp.screenshot("worker-app-practice-feedback.png")
            feedback_seen += 1
        result = page.locator("#qualification-result")
        if result.count():
            assert result.get_attribute("data-passed") == "true", page.content()[-3000:]
            wp.screenshot("worker-app-qualified.png")
            return feedback_seen
        page.click("#training-next")
    raise AssertionError("the training path did not end with a qualification result")


def _wait_playing(page: Page) -> None:
    page.click("#play-pause")
    page.wait_for_function(
        "() => { const a = document.querySelector('#segment-audio');"
        " return a.readyState >= 2 && a.currentTime > 0.3 && !a.error; }",
        timeout=60_000,
    )


def _answer_rows(ctx, worker_id: str, client_answer_id: str) -> list[Any]:  # type: ignore[no-untyped-def]
    from engine.db.models import AnswerRow

    with ctx.sessions() as session:
        return list(
            session.scalars(
                select(AnswerRow).where(
                    AnswerRow.worker_id == worker_id, AnswerRow.client_answer_id == client_answer_id
                )
            )
        )


def test_trainee_on_a_slow_phone_trains_then_answers_offline_once(
    browser: Browser,
    ctx,  # type: ignore[no-untyped-def]
    api,
    app_url: str,
    celery_worker_process,
    training_items: list[int],
) -> None:
    from engine.db.models import AnswerRow, DraftRow, TaskRow

    job_id = _drafted_job(ctx, celery_worker_process)
    with ctx.sessions() as session:
        drafts = {
            t.id: (d.text, t.is_gold)
            for t, d in session.execute(
                select(TaskRow, DraftRow).join(DraftRow, DraftRow.task_id == TaskRow.id)
                .where(TaskRow.job_id == job_id)
            )
        }  # fmt: skip
    assert len(drafts) == 2 and all(text for text, _ in drafts.values()), drafts
    _other_worker_answers(api, ctx, job_id)
    worker_id, code = _trainee(ctx)

    with open_mobile_page(browser) as wp:
        page = wp.page
        bodies = ResponseBodies(wp.context)
        meter = TransferMeter(page)
        throttle(page, kbps=KBPS, latency_ms=LATENCY_MS)
        try:
            page.goto(f"{app_url}/app/login")
            page.fill("#code", code)
            wp.screenshot("worker-app-login.png")
            page.click("#login-submit")
            page.wait_for_url(f"{app_url}/app")
            assert page.viewport_size == {"width": 360, "height": 740}

            assert _train(page, ctx, app_url, wp) >= 3

            # Both tasks of the job (gold or not, they look alike); the order is the engine's
            # (gold is drawn at random: 99 % here). A task of another job (should the link's job
            # run dry) is answered with its draft and passed by.
            seen: set[str] = set()
            for _ in range(8):
                if seen == set(drafts):
                    break
                meter.reset()
                # The coordinator's link to this job (other tests' open jobs wait elsewhere).
                page.goto(f"{app_url}/app/task?job={job_id}")
                form = page.locator("#answer-form")
                if not form.count():
                    expect(page.locator("#no-task")).to_be_visible()
                    page.wait_for_timeout(500)
                    continue
                task_id = form.get_attribute("data-task-id") or ""
                lease_id = form.get_attribute("data-lease-id") or ""
                client_answer_id = form.get_attribute("data-client-answer-id") or ""
                if task_id not in drafts:
                    page.click("#submit")
                    page.wait_for_url("**/app/task/done**")
                    continue
                assert task_id not in seen, (task_id, drafts)
                seen.add(task_id)
                assert form.get_attribute("data-kind") == "transcription"
                assert client_answer_id == f"app-{lease_id}"
                draft, is_gold = drafts[task_id]
                expect(page.locator("#answer-text")).to_have_value(draft.strip())
                _wait_playing(page)
                audio = [t for t in meter.transfers() if is_audio(t)]
                assert audio and all("opus" in t.url or "ogg" in t.mime_type for t in audio), audio
                if is_gold:  # the gold one is answered online, like any task
                    page.fill("#answer-text", "stuff it into you")
                    page.click("#submit")
                    page.wait_for_url("**/app/task/done**")
                    assert len(_answer_rows(ctx, worker_id, client_answer_id)) == 1
                    continue
                wp.screenshot("worker-app-task.png")

                page.fill("#answer-text", EDITED)
                set_offline(page, True)
                page.click("#submit")
                # The page says the answer is kept on the phone (once the send has failed).
                expect(page.locator("#task-status")).to_contain_text("saved on this phone")
                pending = page.evaluate(
                    "() => KaziOutbox.pending().then(rs => rs.map(r => r.client_answer_id))"
                )
                assert pending == [client_answer_id]
                page.wait_for_timeout(1500)
                assert _answer_rows(ctx, worker_id, client_answer_id) == []
                wp.screenshot("worker-app-offline.png")

                set_offline(page, False)  # the page's "online" handler sends the outbox
                page.wait_for_url("**/app/task/done**", timeout=60_000)
                rows = _answer_rows(ctx, worker_id, client_answer_id)
                assert len(rows) == 1 and rows[0].payload == {"text": EDITED}
                assert rows[0].lease_id == lease_id and rows[0].task_id == task_id
                wp.screenshot("worker-app-sent.png")
            assert seen == set(drafts)

            # Sent once, however often the page comes back: the outbox is empty, one row.
            page.goto(f"{app_url}/app/task")
            page.wait_for_timeout(1000)
            assert page.evaluate(OUTBOX_SIZE) == 0
        except BaseException:
            wp.screenshot("failed-worker-app-journey.png", full_page=True)
            raise

    with ctx.sessions() as session:
        mine = session.scalar(
            select(func.count()).select_from(AnswerRow)
            .where(AnswerRow.worker_id == worker_id, AnswerRow.job_id == job_id)
        )  # fmt: skip
    assert mine == 2
    # On the wire: nothing another worker wrote, nor the gold reference, reached this phone.
    assert len(bodies.bodies) > 20 and any(b"answer-form" in body for _, body in bodies.bodies)
    assert bodies.containing(OTHER_WORKER_TEXT) == []
    assert bodies.containing(GOLD_TEXT) == []
    assert bodies.containing("goldmark") == []
