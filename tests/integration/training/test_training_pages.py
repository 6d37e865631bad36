"""The training pages through the real app: practice with the word-level diff in the page, the
qualification set with results only at the end, the gate on paid work, resends counted once,
CSRF before the body, and bad input answered 4xx (never 5xx). On its own SQLite database."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.integration.training.conftest import add_items, form_of, log_in

P1, P2 = "habari ya asubuhi rafiki", "tunapanda miti kesho"
Q1 = "maji ni uhai wetu"


@pytest.fixture(scope="module")
def items(training_ctx: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    tmp = tmp_path_factory.mktemp("media")
    p = add_items(
        training_ctx,
        tmp,
        "practice",
        [("text", P1), ("text", P2), ("label", ("paka", ["mbwa", "paka", "ng'ombe"]))],
    )
    q = add_items(training_ctx, tmp, "qualification",
                  [("text", Q1), ("label", ("mbwa", ["mbwa", "paka"]))])  # fmt: skip
    return {"p1": p[0], "p2": p[1], "p3": p[2], "q1": q[0], "q2": q[1]}


def _attempts(ctx: Any, worker_id: str) -> int:
    with ctx.sessions() as s:
        return int(s.execute(text("SELECT count(*) FROM training_attempts WHERE worker_id = :w"),
                             {"w": worker_id}).scalar_one())  # fmt: skip


def _stage(ctx: Any, worker_id: str) -> str:
    with ctx.sessions() as s:
        return str(s.execute(text("SELECT stage FROM training_progress WHERE worker_id = :w"),
                             {"w": worker_id}).scalar_one())  # fmt: skip


def _next(client: TestClient) -> tuple[str, dict[str, str]]:
    page = client.get("/app/training/next")
    assert page.status_code == 200, page.text
    return page.text, form_of(page.text)


def _post(client: TestClient, form: dict[str, str], **answer: str) -> Any:
    fields = {k: v for k, v in form.items() if k != "action"}
    return client.post(form["action"], data={**fields, **answer})


def _words(page: str, tag: str) -> list[str]:
    """The words marked <del> (yours) or <ins> (expected) in the feedback's diff line."""
    box = page[page.index('id="feedback"') :]
    line = box[box.index('<p class="diff"') :]
    line = line[: line.index("</p>")]
    return [html.unescape(w) for w in re.findall(rf"<{tag}[^>]*>([^<]*)</{tag}>", line)]


def test_practice_feedback_then_qualification_opens_paid_work(  # type: ignore[no-untyped-def]
    training_client: TestClient, training_ctx, items, trainee
) -> None:
    worker_id, handle, api_key = trainee()
    log_in(training_client, training_ctx, handle)
    overview = training_client.get("/app/training")
    assert 'data-stage="not_started"' in overview.text and 'id="training-next"' in overview.text
    home = training_client.get("/app")
    assert home.status_code == 200 and 'id="training-summary"' in home.text
    # Paid work is closed: the worker API's /next answers 403 training_required.
    closed = training_client.post("/v1/work/next", headers={"Authorization": f"Bearer {api_key}"})
    assert closed.status_code == 403 and closed.json()["code"] == "training_required"

    page, form = _next(training_client)
    assert form["action"] == f"/app/training/{items['p1']}/answer"
    assert 'id="segment-audio"' in page and 'id="answer-text"' in page
    # Blind on the wire: the page has no word of the expected answer.
    assert P1 not in page and "asubuhi" not in page
    audio = re.search(r'id="segment-audio"[^>]* src="([^"]+)"', page)
    assert audio, page
    media = training_client.get(html.unescape(audio.group(1)).removeprefix("https://testserver"))
    assert media.status_code == 200 and media.headers["content-type"] == "audio/ogg"
    assert media.content[:4] == b"OggS"

    result = _post(training_client, form, text="Habari za asubuhi, rafiki")
    assert result.status_code == 200, result.text
    assert _words(result.text, "del") == ["za"] and _words(result.text, "ins") == ["ya"]
    assert re.search(r'id="feedback"[^>]* data-score="0\.7500"', result.text)
    assert html.escape(P1) in result.text  # shown once answered

    page, form = _next(training_client)
    assert P2 not in page
    _post(training_client, form, text=P2)
    page, form = _next(training_client)
    assert 'name="label"' in page and 'id="training-image"' in page and "checked" not in page
    done = _post(training_client, form, label="mbwa")
    assert '<del dir="auto">mbwa</del>' in done.text and '<ins dir="auto">paka</ins>' in done.text
    assert 'id="practice-done"' in done.text and _stage(training_ctx, worker_id) == "qualifying"

    # The qualification set: nothing revealed item by item, the result at the end.
    page, form = _next(training_client)
    assert form["action"] == f"/app/training/{items['q1']}/answer" and Q1 not in page
    saved = _post(training_client, form, text="maji ni uhai wetu")
    assert saved.status_code == 200 and 'id="feedback"' not in saved.text
    assert Q1 not in saved.text and 'id="qualification-progress"' in saved.text
    page, form = _next(training_client)
    final = _post(training_client, form, label="mbwa")
    assert re.search(r'id="qualification-result"[^>]* data-passed="true"', final.text)
    assert _stage(training_ctx, worker_id) == "qualified"
    opened = training_client.post("/v1/work/next", headers={"Authorization": f"Bearer {api_key}"})
    assert opened.status_code == 204  # no paid work waiting, but no longer refused
    assert training_client.get("/app/training/next", follow_redirects=False).status_code == 303


def test_a_failed_set_goes_back_to_practice_and_shows_what_to_improve(  # type: ignore[no-untyped-def]
    training_client: TestClient, training_ctx, items, trainee
) -> None:
    worker_id, handle, _ = trainee()
    log_in(training_client, training_ctx, handle)
    for answer in ({"text": P1}, {"text": P2}, {"label": "paka"}):
        _, form = _next(training_client)
        _post(training_client, form, **answer)
    _, form = _next(training_client)
    _post(training_client, form, text="maji")
    _, form = _next(training_client)
    failed = _post(training_client, form, label="paka")
    assert re.search(r'id="qualification-result"[^>]* data-passed="false"', failed.text)
    assert 'id="to-improve"' in failed.text and "<ins" in failed.text
    assert _stage(training_ctx, worker_id) == "practice"
    overview = training_client.get("/app/training")
    assert 'data-stage="practice"' in overview.text and 'id="failed-rounds"' in overview.text
    assert 'id="to-improve"' in overview.text
    page, form = _next(training_client)  # practice again, least-answered first
    assert form["action"] == f"/app/training/{items['p1']}/answer"


def test_a_resent_form_counts_once(  # type: ignore[no-untyped-def]
    training_client: TestClient, training_ctx, items, trainee
) -> None:
    worker_id, handle, _ = trainee()
    log_in(training_client, training_ctx, handle)
    _, form = _next(training_client)
    first = _post(training_client, form, text="habari")
    again = _post(training_client, form, text="habari")
    assert first.status_code == again.status_code == 200
    assert 'id="replayed"' in again.text and 'id="replayed"' not in first.text
    assert _words(first.text, "ins") == _words(again.text, "ins")
    assert _attempts(training_ctx, worker_id) == 1
    # A fresh page is a new answer (of the next item).
    _, form2 = _next(training_client)
    assert form2["client_id"] != form["client_id"]
    assert form2["action"] == f"/app/training/{items['p2']}/answer"


def test_csrf_is_checked_after_the_session_and_before_the_body(  # type: ignore[no-untyped-def]
    training_client: TestClient, training_ctx, items, trainee
) -> None:
    worker_id, handle, _ = trainee()
    log_in(training_client, training_ctx, handle)
    _, form = _next(training_client)
    forged = {**form, "csrf_token": "not-the-token"}
    assert _post(training_client, forged, text="habari").status_code == 403
    no_token = {k: v for k, v in form.items() if k != "csrf_token"}
    assert _post(training_client, no_token, text="habari").status_code == 403
    assert _attempts(training_ctx, worker_id) == 0
    training_client.cookies.clear()
    fields = {k: v for k, v in form.items() if k != "action"}
    anonymous = training_client.post(form["action"], data={**fields, "text": "habari"},
                                     follow_redirects=False)  # fmt: skip
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/app/login")
    assert _attempts(training_ctx, worker_id) == 0


def _bad_cases(items: dict[str, int]) -> list[tuple[str, str, dict[str, str], int]]:
    return [
        ("unknown item", "/app/training/999999/answer", {"text": "x"}, 404),
        ("item id not a number", "/app/training/abc/answer", {"text": "x"}, 422),
        ("item id zero", "/app/training/0/answer", {"text": "x"}, 422),
        ("item id too big", f"/app/training/{2**40}/answer", {"text": "x"}, 422),
        ("qualification item while practising", f"/app/training/{items['q1']}/answer",
         {"text": "x"}, 409),
        ("practice item not next", f"/app/training/{items['p2']}/answer", {"text": "x"}, 409),
        ("no text", "NEXT", {}, 422),
        ("no client id", "NEXT", {"text": "x", "client_id": ""}, 422),
        ("client id with odd characters", "NEXT", {"text": "x", "client_id": "<script>"}, 422),
        ("text too long", "NEXT", {"text": "x" * 20001}, 422),
    ]  # fmt: skip


def test_bad_input_is_a_4xx_page_never_a_5xx(  # type: ignore[no-untyped-def]
    training_client: TestClient, training_ctx, items, trainee
) -> None:
    worker_id, handle, _ = trainee()
    log_in(training_client, training_ctx, handle)
    _, form = _next(training_client)
    for name, path, extra, status in _bad_cases(items):
        data = {"csrf_token": form["csrf_token"], "client_id": form["client_id"], **extra}
        resp = training_client.post(form["action"] if path == "NEXT" else path, data=data)
        assert resp.status_code == status, (name, resp.status_code, resp.text[:300])
    # A body that is not a form (token in the header) is refused too.
    raw = training_client.post(form["action"], content=b'{"text": "x"}',
                               headers={"X-CSRF-Token": form["csrf_token"],
                                        "Content-Type": "application/json"})  # fmt: skip
    assert raw.status_code == 415, raw.text
    assert _attempts(training_ctx, worker_id) == 0


def test_a_worker_without_training_is_told_so(  # type: ignore[no-untyped-def]
    training_client: TestClient, training_ctx, items, trainee
) -> None:
    worker_id, handle, api_key = trainee(enrol=False)
    csrf = log_in(training_client, training_ctx, handle)
    page = training_client.get("/app/training")
    assert 'id="training-none"' in page.text
    assert training_client.get("/app/training/next", follow_redirects=False).status_code == 303
    resp = training_client.post(
        f"/app/training/{items['p1']}/answer",
        data={"csrf_token": csrf, "client_id": "a" * 32, "text": "x"},
    )
    assert resp.status_code == 409
    opened = training_client.post("/v1/work/next", headers={"Authorization": f"Bearer {api_key}"})
    assert opened.status_code == 204


def test_pages_are_translated_and_arabic_is_right_to_left(  # type: ignore[no-untyped-def]
    training_client: TestClient, training_ctx, items, trainee, tmp_path: Path
) -> None:
    _, handle, _ = trainee()
    csrf = log_in(training_client, training_ctx, handle)
    for locale, words, direction in (("sw", "Anza mafunzo", "ltr"), ("ar", "ابدأ التدريب", "rtl")):
        chosen = training_client.post("/app/language", data={"csrf_token": csrf, "locale": locale,
                                                             "next": "/app/training"})  # fmt: skip
        assert chosen.status_code == 200, chosen.text  # followed the redirect
        assert words in chosen.text and f'dir="{direction}"' in chosen.text
