"""The app's task pages on PostgreSQL: lease and show a task, submit (form and JSON), late
submits in plain words, heartbeat, skip, blindness, the light editor's byte budget and bad input.

Tasks are seeded straight into the database (no pipeline run) and each worker first holds a
lease on its own test task (``hold``), so a page never serves another test's open work.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from engine.db.models import (
    AnswerRow,
    AssignmentRow,
    DraftRow,
    JobRow,
    LeaseRow,
    SourceMediaRow,
    TaskRow,
)
from engine.domain.labeling_payload import answer_from_annotation
from engine.work import service
from engine.work.service import DistributionSettings
from tests.media_samples import png_bytes

SETTINGS = DistributionSettings()
LIGHT_PAGE_BUDGET_BYTES = 60 * 1024
# Characters a phone keyboard or an HTML round trip could spoil: accents, quotes, <, &, Arabic.
DRAFT_WORDS = [
    ("Naïve", 0.95), ("café", 0.31), ("<owner>", 0.9), ("&", 0.88), ("\u201cquote\u201d", 0.2),
    ("مرحبا", 0.97),
]  # fmt: skip
DRAFT_TEXT = " ".join(word for word, _ in DRAFT_WORDS)
OPUS_BYTES = b"OggS" + b"\x00" * 60 + b"opus-segment"
FLAC_BYTES = b"fLaC" + b"\x00" * 60


# -- seeding -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_client(ctx) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    from engine.api.app import create_app

    app = create_app(ctx)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


@dataclass(frozen=True)
class AppWorker:
    id: str
    handle: str
    cookie: dict[str, str]  # the session cookie header
    csrf: str

    def json_headers(self, csrf: str | None = None) -> dict[str, str]:
        return {
            **self.cookie,
            "X-CSRF-Token": self.csrf if csrf is None else csrf,
            "Accept": "application/json",
        }


def app_worker(ctx, tier: str = "qualified", locale: str = "en") -> AppWorker:  # type: ignore[no-untyped-def]
    from engine.worker_app.sessions import issue_login_code, redeem_login_code, set_locale
    from engine.workforce.service import register_worker

    handle = f"app-{uuid.uuid4().hex[:10]}"
    worker = ctx.in_unit_of_work(register_worker, handle, tier)
    code, _ = ctx.in_unit_of_work(issue_login_code, handle)
    token, session = ctx.in_unit_of_work(redeem_login_code, code)
    if locale != "en":
        ctx.in_unit_of_work(set_locale, session.session_id, locale)
    return AppWorker(worker.id, handle, {"Cookie": f"kazi_app={token}"}, session.csrf_token)


@dataclass(frozen=True)
class SeededTask:
    job_id: str
    task_id: str
    width: int | None = None
    height: int | None = None


def seed_task(  # type: ignore[no-untyped-def]
    ctx,
    kind: str = "transcription",
    *,
    overlap: int = 1,
    labels: tuple[str, ...] = (),
    image: tuple[int, int] = (320, 200),
    gold_answer: dict[str, Any] | None = None,
    opus: bytes = OPUS_BYTES,
    flac: bytes = FLAC_BYTES,
) -> SeededTask:
    """One job open for work with one task (and its media in the object store)."""
    from engine.clients.service import create_client

    client = ctx.in_unit_of_work(create_client, f"app-client-{uuid.uuid4().hex[:8]}")
    job_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
    spec = {"kind": kind, "labels": list(labels), "overlap": overlap, "gold_ratio": 0.0}
    width, height = image if kind != "transcription" else (None, None)
    base = f"test/worker-app/{job_id}"
    if kind == "transcription":
        key, lowres = f"{base}/00000.flac", f"{base}/00000.opus"
        ctx.store.put_bytes(key, flac, content_type="audio/flac")
        ctx.store.put_bytes(lowres, opus, content_type="audio/ogg")
    else:
        key, lowres = f"{base}/image.png", None
        ctx.store.put_bytes(key, png_bytes(*image), content_type="image/png")
    with ctx.uow() as uow:
        session = uow.session
        session.add(JobRow(id=job_id, client_id=client.client_id, kind=kind, spec=spec,
                           stage="labeling"))  # fmt: skip
        session.flush()
        session.add(SourceMediaRow(
            id=job_id, job_id=job_id, seq=0, filename="source", object_key=key, sha256=job_id,
            size_bytes=1, media_type="audio" if kind == "transcription" else "image",
            content_type="audio/flac" if kind == "transcription" else "image/png",
        ))  # fmt: skip
        session.flush()
        session.add(TaskRow(
            id=task_id, job_id=job_id, source_id=job_id, seq=0,
            kind="audio_segment" if kind == "transcription" else "image", object_key=key,
            lowres_object_key=lowres, start_seconds=12.0 if lowres else None,
            end_seconds=19.5 if lowres else None, box_x=0 if width else None,
            box_y=0 if width else None, box_w=width, box_h=height,
            is_gold=gold_answer is not None, gold_answer=gold_answer,
        ))  # fmt: skip
        session.flush()
        if kind == "transcription":
            words = [
                {"word": w, "start": i, "end": i + 0.5, "source_start": 12 + i,
                 "source_end": 12.5 + i, "probability": p, "low_confidence": p < 0.5}
                for i, (w, p) in enumerate(DRAFT_WORDS)
            ]  # fmt: skip
            session.add(DraftRow(task_id=task_id, model_version="test-model", text=DRAFT_TEXT,
                                 words=words, object_key=f"{base}/draft.json"))  # fmt: skip
        if gold_answer is None:
            uow.work.add_slots(job_id, [task_id], overlap)
        uow.commit()
    return SeededTask(job_id, task_id, width, height)


def hold(ctx, worker: AppWorker, task: SeededTask) -> str:  # type: ignore[no-untyped-def]
    """The worker leases the test's own task (the app then shows the lease it holds)."""

    def take(uow):  # type: ignore[no-untyped-def]
        lease = service.lease_next(uow, worker.id, SETTINGS, job_id=task.job_id, channel="app")
        assert lease is not None and lease.task_id == task.task_id
        return lease.lease_id

    return str(ctx.in_unit_of_work(take))


def hold_gold(ctx, worker: AppWorker, task: SeededTask) -> str:  # type: ignore[no-untyped-def]
    def take(uow):  # type: ignore[no-untyped-def]
        return service.lease_for_answer(
            uow, worker.id, task.task_id, None, SETTINGS, "app"
        ).lease_id

    return str(ctx.in_unit_of_work(take))


def run_out(ctx, lease_id: str) -> None:  # type: ignore[no-untyped-def]
    """Time passes: the lease's end moves into the past (no sleeping)."""
    past = datetime.now(UTC) - timedelta(seconds=5)
    with ctx.uow() as uow:
        uow.session.execute(update(LeaseRow).where(LeaseRow.id == lease_id).values(expires_at=past))
        uow.session.execute(
            update(AssignmentRow).where(AssignmentRow.lease_id == lease_id).values(expires_at=past)
        )
        uow.commit()


def answers_of(ctx, task_id: str) -> list[AnswerRow]:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return list(session.scalars(select(AnswerRow).where(AnswerRow.task_id == task_id)))


def release_all(ctx, worker: AppWorker) -> None:  # type: ignore[no-untyped-def]
    """Give back whatever the worker still holds (so no other test's task stays leased)."""

    def give_back(uow):  # type: ignore[no-untyped-def]
        held = uow.work.live_lease_of(worker.id, datetime.now(UTC))
        if held is not None:
            service.release(uow, worker.id, held.id)

    ctx.in_unit_of_work(give_back)


class Page(HTMLParser):
    """The bits of a page the tests read: elements by id, and what it loads."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str | None]] = {}
        self.loads: list[str] = []
        self.low_confidence: list[str] = []
        self._in_low = False
        self._textarea: str | None = None
        self.textarea_text = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.by_id[str(found["id"])] = {"tag": tag, **found}
        if tag == "script" and found.get("src"):
            self.loads.append(str(found["src"]))
        if tag == "link" and found.get("rel") == "stylesheet" and found.get("href"):
            self.loads.append(str(found["href"]))
        self._in_low = tag == "li" and "low-confidence" in (found.get("class") or "")
        if tag == "textarea" and found.get("id") == "answer-text":
            self._textarea = ""

    def handle_data(self, data: str) -> None:
        if self._in_low:
            self.low_confidence.append(data)
        if self._textarea is not None:
            self._textarea += data

    def handle_endtag(self, tag: str) -> None:
        self._in_low = False
        if tag == "textarea" and self._textarea is not None:
            self.textarea_text, self._textarea = self._textarea, None


# -- the light editor ----------------------------------------------------------------------


def test_the_light_editor_shows_the_held_lease_with_its_draft_and_small_audio(app_client, ctx):  # type: ignore[no-untyped-def]
    task = seed_task(ctx)
    worker = app_worker(ctx)
    lease_id = hold(ctx, worker, task)
    resp = app_client.get("/app/task", headers=worker.cookie)
    assert resp.status_code == 200, resp.text
    page = Page(resp.text)
    form = page.by_id["answer-form"]
    assert form["action"] == f"/app/task/{lease_id}/submit" and form["method"] == "post"
    assert form["data-lease-id"] == lease_id and form["data-task-id"] == task.task_id
    assert form["data-kind"] == "transcription"
    assert form["data-client-answer-id"] == f"app-{lease_id}"
    for element in ("segment-audio", "play-pause", "rewind", "submit", "skip", "draft-words"):
        assert element in page.by_id, element
    # Character for character, HTML-escaped on the wire and whole again in the textarea.
    assert page.textarea_text == DRAFT_TEXT
    assert "<owner>" not in resp.text and "&lt;owner&gt;" in resp.text
    assert page.low_confidence == ["café", "\u201cquote\u201d"]
    # The small Opus copy, on the page's own origin, served by the signed media route.
    audio = str(page.by_id["segment-audio"]["src"])
    assert audio.startswith("/v1/media/") and ".opus" in audio
    assert app_client.get(audio).content == OPUS_BYTES
    assert "private" in resp.headers["cache-control"]
    assert "vendor/lsf" not in resp.text  # the full editor's bundle is not loaded here
    release_all(ctx, worker)


def test_the_light_editor_page_without_its_audio_is_at_most_60_kb(app_client, ctx):  # type: ignore[no-untyped-def]
    task = seed_task(ctx)
    worker = app_worker(ctx)
    hold(ctx, worker, task)
    resp = app_client.get("/app/task", headers=worker.cookie)
    page = Page(resp.text)
    # What a cold cache fetches: the page, its CSS and scripts, and the service worker's script
    # with the shell files it caches; counted before gzip (what goes over the wire is less).
    sw = app_client.get("/app/sw.js")
    shell = re.findall(r'"(/app/static/[^"]+)"', sw.text)
    urls = sorted(set(page.loads) | set(shell))
    assert "/app/static/light_editor.js" in urls and "/app/static/offline_queue.js" in urls
    sizes = {}
    for url in urls:
        got = app_client.get(url)
        assert got.status_code == 200, url
        sizes[url] = len(got.content)
    total = len(resp.content) + len(sw.content) + sum(sizes.values())
    assert total <= LIGHT_PAGE_BUDGET_BYTES, (total, sizes)
    release_all(ctx, worker)


def test_a_form_submit_is_filed_once_and_a_resend_is_a_replay(app_client, ctx):  # type: ignore[no-untyped-def]
    task = seed_task(ctx)
    worker = app_worker(ctx)
    lease_id = hold(ctx, worker, task)
    form = {"csrf_token": worker.csrf, "client_answer_id": f"app-{lease_id}",
            "text": "  Naïve café\r\n “quote”  ", "time_spent_seconds": "41"}  # fmt: skip
    first = app_client.post(f"/app/task/{lease_id}/submit", data=form, headers=worker.cookie,
                            follow_redirects=False)  # fmt: skip
    assert first.status_code == 303 and first.headers["location"] == "/app/task/done?outcome=filed"
    done = app_client.get(first.headers["location"], headers=worker.cookie)
    assert done.status_code == 200 and "Your answer is saved" in done.text
    again = app_client.post(
        f"/app/task/{lease_id}/submit",
        json={"client_answer_id": f"app-{lease_id}", "answer": {"text": "Naïve café"}},
        headers=worker.json_headers(),
    )
    assert again.status_code == 200 and again.json()["outcome"] == "replayed"
    (answer,) = answers_of(ctx, task.task_id)
    assert answer.payload == {"text": "Naïve café “quote”"} and answer.source == "app"
    assert answer.client_answer_id == f"app-{lease_id}" and answer.time_spent_seconds == 41


def test_a_late_submit_is_filed_while_the_task_needs_it_and_refused_in_plain_words_after(  # type: ignore[no-untyped-def]
    app_client, ctx
):
    task = seed_task(ctx, overlap=1)
    late, on_time = app_worker(ctx), app_worker(ctx, locale="sw")
    lease_id = hold(ctx, late, task)
    run_out(ctx, lease_id)
    # Nobody took the slot: the late answer still counts.
    filed = app_client.post(
        f"/app/task/{lease_id}/submit",
        json={"client_answer_id": f"app-{lease_id}", "answer": {"text": "late but needed"}},
        headers=late.json_headers(),
    )
    assert filed.status_code == 201 and filed.json()["outcome"] == "late_filed"
    assert "still needed an answer" in filed.json()["message"]

    full = seed_task(ctx, overlap=1)
    sw_lease = hold(ctx, on_time, full)
    run_out(ctx, sw_lease)
    other = app_worker(ctx)
    other_lease = hold(ctx, other, full)  # the run-out slot went to someone else ...
    app_client.post(
        f"/app/task/{other_lease}/submit",
        json={"client_answer_id": f"app-{other_lease}", "answer": {"text": "on time"}},
        headers=other.json_headers(),
    )
    refused = app_client.post(  # ... who answered: the task has all it needs
        f"/app/task/{sw_lease}/submit",
        json={"client_answer_id": f"app-{sw_lease}", "answer": {"text": "too late"}},
        headers=on_time.json_headers(),
    )
    assert refused.status_code == 409
    body = refused.json()
    assert body["outcome"] == "refused" and body["reason"] == "ran_out_full"
    assert body["code"] == "submit_refused" and "Muda wako wa kazi hii umekwisha" in body["message"]
    page = app_client.post(
        f"/app/task/{sw_lease}/submit",
        data={"csrf_token": on_time.csrf, "text": "too late"},
        headers=on_time.cookie,
    )
    assert page.status_code == 409 and 'data-outcome="refused"' in page.text
    assert "halikuhifadhiwa" in page.text
    assert [a.payload for a in answers_of(ctx, full.task_id)] == [{"text": "on time"}]


# -- the full editor -----------------------------------------------------------------------


def test_a_box_result_from_the_full_editor_lands_in_task_pixels_as_the_webhook_files_it(  # type: ignore[no-untyped-def]
    app_client, ctx
):
    task = seed_task(ctx, "image_boxes", labels=("car", "tree"), image=(640, 360))
    worker = app_worker(ctx)
    lease_id = hold(ctx, worker, task)
    page = app_client.get("/app/task", headers=worker.cookie)
    assert page.status_code == 200 and 'id="label-studio"' in page.text
    assert "/app/static/vendor/lsf/main.js" in page.text
    assert "'unsafe-inline'" in page.headers["content-security-policy"]
    setup = re.search(r'<script type="application/json" id="editor-setup">(.*?)</script>',
                      page.text, re.S)  # fmt: skip
    assert setup and "RectangleLabels" in setup.group(1) and "tree" in setup.group(1)
    result = [{
        "id": "r1", "from_name": "boxes", "to_name": "image", "type": "rectanglelabels",
        "original_width": 640, "original_height": 360, "image_rotation": 0,
        "value": {"x": 12.5, "y": 25.0, "width": 30.0, "height": 50.0, "rotation": 0,
                  "rectanglelabels": ["car"]},
    }]  # fmt: skip
    resp = app_client.post(
        f"/app/task/{lease_id}/submit",
        json={"client_answer_id": f"app-{lease_id}", "result": result, "time_spent_seconds": 9},
        headers=worker.json_headers(),
    )
    assert resp.status_code == 201, resp.text
    (answer,) = answers_of(ctx, task.task_id)
    expected = answer_from_annotation("image_boxes", result, (640, 360))
    assert answer.payload == expected
    assert answer.payload == {"boxes": [{"label": "car", "x": 80.0, "y": 90.0, "w": 192.0,
                                         "h": 180.0}]}  # fmt: skip


def test_transcription_in_the_full_editor_is_chosen_and_remembered(app_client, ctx):  # type: ignore[no-untyped-def]
    task = seed_task(ctx)
    worker = app_worker(ctx)
    hold(ctx, worker, task)
    full = app_client.get("/app/task?editor=full", headers=worker.cookie)
    assert full.status_code == 200 and 'id="label-studio"' in full.text
    cookie = full.headers["set-cookie"]
    assert "kazi_editor=full" in cookie and "HttpOnly" in cookie and "Path=/app" in cookie
    again = app_client.get(
        "/app/task", headers={"Cookie": worker.cookie["Cookie"] + "; kazi_editor=full"}
    )
    assert 'id="label-studio"' in again.text and "TextArea" in again.text
    assert ".flac" in again.text  # a desktop plays the task's own audio
    app_client.cookies.clear()
    release_all(ctx, worker)


# -- blind by construction -----------------------------------------------------------------


def test_no_response_carries_another_workers_answer_the_gold_answer_or_a_gold_flag(  # type: ignore[no-untyped-def]
    app_client, ctx
):
    secret_gold = f"GOLD-{uuid.uuid4().hex}"
    gold = seed_task(ctx, gold_answer={"text": secret_gold})
    shared = seed_task(ctx, overlap=2)
    first, second = app_worker(ctx), app_worker(ctx)
    first_lease = hold(ctx, first, shared)
    secret_answer = f"OTHER-{uuid.uuid4().hex}"
    app_client.post(
        f"/app/task/{first_lease}/submit",
        json={"client_answer_id": f"app-{first_lease}", "answer": {"text": secret_answer}},
        headers=first.json_headers(),
    )
    seen: list[str] = []
    for task, take in ((shared, hold), (gold, hold_gold)):
        lease_id = take(ctx, second, task)
        for editor in ("light", "full"):
            seen.append(app_client.get(f"/app/task?editor={editor}", headers=second.cookie).text)
        beat = app_client.post(f"/app/task/{lease_id}/heartbeat", headers=second.json_headers())
        sent = app_client.post(
            f"/app/task/{lease_id}/submit",
            json={"client_answer_id": f"app-{lease_id}", "answer": {"text": "mine"}},
            headers=second.json_headers(),
        )
        seen += [beat.text, sent.text]
        assert sent.status_code == 201, sent.text
    app_client.cookies.clear()
    wire = "\n".join(seen)
    assert secret_answer not in wire and secret_gold not in wire
    assert not re.search(r"is_gold|gold", wire, re.IGNORECASE)


# -- heartbeat and skip --------------------------------------------------------------------


def _lease_row(ctx, lease_id: str) -> LeaseRow:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        row = session.get(LeaseRow, lease_id)
        assert row is not None
        return row


def test_the_heartbeat_extends_a_live_lease_and_never_revives_a_run_out_one(app_client, ctx):  # type: ignore[no-untyped-def]
    task = seed_task(ctx)
    worker = app_worker(ctx, locale="ar")
    lease_id = hold(ctx, worker, task)
    soon = datetime.now(UTC) + timedelta(seconds=30)
    with ctx.uow() as uow:
        uow.session.execute(update(LeaseRow).where(LeaseRow.id == lease_id).values(expires_at=soon))
        uow.commit()
    beat = app_client.post(f"/app/task/{lease_id}/heartbeat", json={},
                           headers=worker.json_headers())  # fmt: skip
    assert beat.status_code == 200, beat.text
    extended = datetime.fromisoformat(beat.json()["expires_at"])
    assert extended > soon + timedelta(seconds=60)
    assert extended <= datetime.now(UTC) + timedelta(seconds=SETTINGS.lease_seconds)
    row = _lease_row(ctx, lease_id)
    assert row.expires_at.replace(tzinfo=UTC) == extended

    run_out(ctx, lease_id)
    ended = app_client.post(f"/app/task/{lease_id}/heartbeat", headers=worker.json_headers())
    assert ended.status_code == 409 and ended.json()["code"] == "lease_expired"
    assert "انتهى وقتك" in ended.json()["message"]
    assert _lease_row(ctx, lease_id).expires_at.replace(tzinfo=UTC) < datetime.now(UTC)


def test_skip_gives_the_task_back_and_a_submit_after_it_is_refused_in_plain_words(  # type: ignore[no-untyped-def]
    app_client, ctx
):
    task = seed_task(ctx)
    worker = app_worker(ctx)
    lease_id = hold(ctx, worker, task)
    skipped = app_client.post(f"/app/task/{lease_id}/skip", data={"csrf_token": worker.csrf},
                              headers=worker.cookie, follow_redirects=False)  # fmt: skip
    assert skipped.status_code == 303
    assert skipped.headers["location"] == "/app/task/done?outcome=skipped"
    assert _lease_row(ctx, lease_id).outcome == "released"
    with ctx.sessions() as session:
        slot = session.scalar(select(AssignmentRow).where(AssignmentRow.task_id == task.task_id))
        assert slot is not None and slot.state == "open" and slot.lease_id is None
    late = app_client.post(
        f"/app/task/{lease_id}/submit",
        json={"client_answer_id": f"app-{lease_id}", "answer": {"text": "after skipping"}},
        headers=worker.json_headers(),
    )
    assert late.status_code == 409 and late.json()["reason"] == "skipped"
    assert "You skipped this task" in late.json()["message"]
    assert answers_of(ctx, task.task_id) == []


def test_a_paused_worker_a_trainee_in_training_and_no_work_get_pages_that_say_so(
    app_client, ctx, monkeypatch
):  # type: ignore[no-untyped-def]
    paused = app_worker(ctx)
    with ctx.uow() as uow:
        worker = uow.workers.get(paused.id)
        assert worker is not None
        worker.status = "paused"
        uow.commit()
    page = app_client.get("/app/task", headers=paused.cookie)
    assert page.status_code == 403 and 'data-reason="paused"' in page.text
    assert "Your account is paused from paid tasks" in page.text

    from engine.training.service import require_training

    trainee = app_worker(ctx, tier="trainee")
    ctx.in_unit_of_work(require_training, trainee.id)  # a training record, not yet qualified
    gated = app_client.get("/app/task", headers=trainee.cookie)
    assert gated.status_code == 403 and 'data-reason="training"' in gated.text
    assert "Finish your training first" in gated.text and 'href="/app/training"' in gated.text

    from engine.worker_app import task_pages

    monkeypatch.setattr(task_pages.service, "lease_next", lambda *a, **k: None)
    idle = app_worker(ctx)
    none = app_client.get("/app/task", headers=idle.cookie)
    assert (
        none.status_code == 200 and 'id="no-task"' in none.text and "No task right now" in none.text
    )


def test_the_service_worker_is_served_to_anyone_from_the_app_scope(app_client):  # type: ignore[no-untyped-def]
    sw = app_client.get("/app/sw.js")
    assert sw.status_code == 200 and sw.headers["content-type"].startswith("text/javascript")
    assert sw.headers["cache-control"] == "no-cache" and "KaziOutbox" in sw.text


# -- bad input -----------------------------------------------------------------------------


def _bad_cases(own: str, others: str) -> list[tuple[str, str, str, dict[str, Any], int]]:
    """(name, method, path, request kwargs with a 'who' of own|none|bad_csrf, status)."""
    cases: list[tuple[str, str, str, dict[str, Any], int]] = []
    answer = {"client_answer_id": f"app-{own}", "answer": {"text": "x"}}
    for route in ("submit", "heartbeat", "skip"):
        cases += [
            (f"{route}: no session", "POST", f"/app/task/{own}/{route}",
             {"who": "none", "json": answer}, 401),
            (f"{route}: wrong csrf", "POST", f"/app/task/{own}/{route}",
             {"who": "bad_csrf", "json": answer}, 403),
            (f"{route}: csrf missing from a form", "POST", f"/app/task/{own}/{route}",
             {"who": "form_without_csrf", "data": {"text": "x"}}, 403),
            (f"{route}: unknown lease", "POST", f"/app/task/{uuid.uuid4()}/{route}",
             {"who": "own", "json": answer if route == "submit" else {}}, 404),
            (f"{route}: another worker's lease", "POST", f"/app/task/{others}/{route}",
             {"who": "own", "json": answer if route == "submit" else {}}, 404),
            (f"{route}: a lease id too long", "POST", f"/app/task/{'a' * 65}/{route}",
             {"who": "own", "json": answer}, 422),
        ]  # fmt: skip
    for route in ("submit", "heartbeat"):
        cases += [
            (f"{route}: not JSON", "POST", f"/app/task/{own}/{route}",
             {"who": "own", "content": b"{nope", "ctype": "application/json"}, 422),
            (f"{route}: oversized", "POST", f"/app/task/{own}/{route}",
             {"who": "own", "content": b'{"x": "' + b"a" * 300_000 + b'"}',
              "ctype": "application/json"}, 413),
        ]  # fmt: skip
    cases += [
        ("submit: empty body", "POST", f"/app/task/{own}/submit",
         {"who": "own", "json": None}, 422),
        ("submit: both answer and result", "POST", f"/app/task/{own}/submit",
         {"who": "own", "json": {**answer, "result": []}}, 422),
        ("submit: an unknown field", "POST", f"/app/task/{own}/submit",
         {"who": "own", "json": {**answer, "is_gold": True}}, 422),
        ("submit: wrong answer kind", "POST", f"/app/task/{own}/submit",
         {"who": "own", "json": {"client_answer_id": "c", "answer": {"label": "cat"}}}, 422),
        ("submit: a result without a textarea", "POST", f"/app/task/{own}/submit",
         {"who": "own", "json": {"client_answer_id": "c", "result": [{"type": "choices",
                                                                    "value": {}}]}}, 422),
        ("submit: negative time", "POST", f"/app/task/{own}/submit",
         {"who": "own", "json": {**answer, "time_spent_seconds": -1}}, 422),
        ("submit: a form without text", "POST", f"/app/task/{own}/submit",
         {"who": "form", "data": {}}, 422),
        ("submit: a form with a file", "POST", f"/app/task/{own}/submit",
         {"who": "form", "data": {"text": "x"}, "files": {"f": ("a.txt", b"x")}}, 422),
        ("submit: oversized form", "POST", f"/app/task/{own}/submit",
         {"who": "form", "data": {"text": "a" * 300_000}}, 413),
        ("heartbeat: unknown field", "POST", f"/app/task/{own}/heartbeat",
         {"who": "own", "json": {"extend_by": 99999}}, 422),
        ("task: unknown editor", "GET", "/app/task?editor=huge", {"who": "own"}, 422),
        ("task: a job id too long", "GET", f"/app/task?job={'j' * 200}", {"who": "own"}, 422),
        ("task: no session", "GET", "/app/task", {"who": "none_json"}, 401),
        ("done: unknown outcome", "GET", "/app/task/done?outcome=gold", {"who": "own"}, 422),
        ("done: no session", "GET", "/app/task/done", {"who": "none_json"}, 401),
    ]  # fmt: skip
    return cases


def test_bad_input_to_every_task_route_gets_a_clear_4xx(app_client, ctx):  # type: ignore[no-untyped-def]
    task, other_task = seed_task(ctx), seed_task(ctx)
    worker, other = app_worker(ctx), app_worker(ctx)
    own, others = hold(ctx, worker, task), hold(ctx, other, other_task)
    for name, method, path, spec, status in _bad_cases(own, others):
        spec = dict(spec)
        who = spec.pop("who")
        headers: dict[str, str] = {"Accept": "application/json"}
        if who == "own":
            headers = worker.json_headers()
        elif who == "bad_csrf":
            headers = worker.json_headers(csrf="not-the-token")
        elif who in ("form", "form_without_csrf"):
            headers = {**worker.cookie, "Accept": "application/json"}
            if who == "form":
                spec["data"] = {"csrf_token": worker.csrf, **spec["data"]}
        if "ctype" in spec:
            headers["Content-Type"] = spec.pop("ctype")
        resp = app_client.request(method, path, headers=headers, follow_redirects=False, **spec)
        assert resp.status_code == status, (name, resp.status_code, resp.text[:300])
        assert resp.status_code < 500
    # Nothing above was filed, and the worker's lease is still live.
    assert answers_of(ctx, task.task_id) == []
    assert _lease_row(ctx, own).outcome is None
    release_all(ctx, worker)
    release_all(ctx, other)


def test_a_page_without_a_session_goes_to_the_login(app_client):  # type: ignore[no-untyped-def]
    resp = app_client.get("/app/task", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/app/login?next=")


def test_a_coordinators_job_link_is_followed_until_that_job_has_nothing_left(app_client, ctx):  # type: ignore[no-untyped-def]
    first, chosen = seed_task(ctx), seed_task(ctx)
    worker = app_worker(ctx)
    unknown = app_client.get(f"/app/task?job={uuid.uuid4()}", headers=worker.cookie)
    assert unknown.status_code == 404
    page = app_client.get(f"/app/task?job={chosen.job_id}", headers=worker.cookie)
    assert page.status_code == 200 and f'data-task-id="{chosen.task_id}"' in page.text
    remembered = page.cookies.get("kazi_job")
    assert remembered == chosen.job_id
    # One lease at a time: another job's link shows the lease held.
    again = app_client.get(f"/app/task?job={first.job_id}", headers=worker.cookie)
    assert f'data-task-id="{chosen.task_id}"' in again.text
    release_all(ctx, worker)
    with_cookie = {"Cookie": f"{worker.cookie['Cookie']}; kazi_job={remembered}"}
    held = app_client.get("/app/task", headers=with_cookie)
    assert f'data-task-id="{chosen.task_id}"' in held.text
    lease_id = re.search(r'data-lease-id="([^"]+)"', held.text).group(1)  # type: ignore[union-attr]
    sent = app_client.post(
        f"/app/task/{lease_id}/submit", headers=with_cookie, follow_redirects=False,
        data={"csrf_token": worker.csrf, "client_answer_id": f"app-{lease_id}", "text": "done"},
    )  # fmt: skip
    assert sent.status_code == 303, sent.text
    # The chosen job has nothing left for this worker: any job's work, and the cookie goes.
    after = app_client.get("/app/task", headers=with_cookie)
    assert after.status_code == 200 and f'data-task-id="{chosen.task_id}"' not in after.text
    assert re.search(r'kazi_job=""?;.*Max-Age=0', after.headers.get("set-cookie", ""), re.I)
    release_all(ctx, worker)
