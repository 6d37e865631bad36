"""The app's pages for a logged-in worker: home, feedback, earnings, statements, language; each
shows only the worker's own data; bad input answers a clear 4xx page."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_client
from tests.integration.worker_app.conftest import AppWorker, log_in

OTHER_WORDS = "zanzibar quokka"  # only in another worker's answer to the same task


def _seed_reviewed_answer(ctx: Any, worker: AppWorker, other: AppWorker) -> str:
    """A transcription task both workers answered, whose result a reviewer corrected; the
    worker's answer scored against the correction. Returns the job id."""
    from engine.db.models import (
        AnswerRow,
        AnswerScoreRow,
        JobRow,
        SourceMediaRow,
        TaskResultRow,
        TaskRow,
    )

    client_id, _ = make_client(ctx)
    job_id, source_id, task_id = (str(uuid.uuid4()) for _ in range(3))
    final = {"text": "the corrected words are here"}
    with ctx.sessions() as s:
        s.add(
            JobRow(id=job_id, client_id=client_id, kind="transcription", spec={}, stage="delivered")
        )
        s.flush()
        s.add(SourceMediaRow(
            id=source_id, job_id=job_id, seq=0, filename="a.wav", object_key="k", sha256="0" * 64,
            size_bytes=1, media_type="audio", content_type="audio/wav",
        ))  # fmt: skip
        s.flush()
        s.add(TaskRow(id=task_id, job_id=job_id, source_id=source_id, seq=0, kind="audio_segment",
                      object_key="k"))  # fmt: skip
        s.flush()
        mine = AnswerRow(task_id=task_id, job_id=job_id, worker_id=worker.id, source="api",
                         payload={"text": "the corected words are hear"})  # fmt: skip
        theirs = AnswerRow(task_id=task_id, job_id=job_id, worker_id=other.id, source="api",
                           payload={"text": OTHER_WORDS})  # fmt: skip
        s.add_all([mine, theirs])
        s.flush()
        s.add(TaskResultRow(task_id=task_id, job_id=job_id, consensus={"text": OTHER_WORDS},
                            final=final, agreement=0.2, answers=2, status="final",
                            final_source="review"))  # fmt: skip
        s.add(AnswerScoreRow(answer_id=mine.id, worker_id=worker.id, job_id=job_id,
                             task_id=task_id, against="review", score=0.6, wer=0.4,
                             cer=0.1))  # fmt: skip
        s.commit()
    return job_id


def test_home_and_feedback_show_the_workers_scores_and_corrections_only(
    ctx: Any, app_client: TestClient, make_worker: Any
) -> None:
    worker, other = make_worker(), make_worker()
    _seed_reviewed_answer(ctx, worker, other)
    log_in(app_client, ctx, worker.handle)
    home = app_client.get("/app")
    assert home.status_code == 200
    assert 'id="get-task"' in home.text and 'href="/app/task"' in home.text
    assert "Trainee" in home.text and 'id="next-tier"' in home.text
    assert "more scored answers" in home.text  # 20 needed to qualify, 1 so far
    for page in (home, app_client.get("/app/feedback")):
        assert page.status_code == 200
        assert "<del" in page.text and "corected" in page.text
        assert re.search(r"<ins[^>]*>corrected</ins>", page.text), page.text
        assert "60%" in page.text
        for word in OTHER_WORDS.split():
            assert word not in page.text
    # The other worker has nothing scored: none of this worker's answer shows up for them.
    log_in(app_client, ctx, other.handle)
    theirs = app_client.get("/app/feedback")
    assert theirs.status_code == 200 and "corected" not in theirs.text


def test_a_gold_answer_shows_its_score_but_never_the_clients_reference(
    ctx: Any, app_client: TestClient, make_worker: Any
) -> None:
    from engine.db.models import AnswerScoreRow, TaskRow

    worker, other = make_worker(), make_worker()
    job_id = _seed_reviewed_answer(ctx, worker, other)
    reference = f"gold reference {uuid.uuid4().hex[:8]}"
    with ctx.sessions() as s:
        task = s.query(TaskRow).filter_by(job_id=job_id).one()
        task.is_gold, task.gold_answer = True, {"text": reference}
        score = s.query(AnswerScoreRow).filter_by(job_id=job_id).one()
        score.against = "gold"
        s.commit()
    log_in(app_client, ctx, worker.handle)
    for page in (app_client.get("/app"), app_client.get("/app/feedback")):
        assert page.status_code == 200 and "60%" in page.text
        assert reference.split()[-1] not in page.text and "<ins" not in page.text
    api = app_client.get("/v1/work/feedback", headers=worker.api_auth)
    assert api.status_code == 200
    (item,) = api.json()
    assert item["scored_against"] == "gold" and item["expected"] is None and not item.get("diff")


def test_pages_carry_the_security_headers(
    ctx: Any, app_client: TestClient, make_worker: Any
) -> None:
    log_in(app_client, ctx, make_worker().handle)
    for path in ("/app", "/app/feedback", "/app/earnings", "/app/statements", "/app/login?lang=en"):
        resp = app_client.get(path, follow_redirects=False)
        csp = resp.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert resp.headers["x-frame-options"] == "DENY"
        assert resp.headers["cache-control"] == "private, no-cache"


def test_earnings_and_statements(ctx: Any, app_client: TestClient, make_worker: Any) -> None:
    worker = make_worker()
    log_in(app_client, ctx, worker.handle)
    earnings = app_client.get("/app/earnings")
    assert earnings.status_code == 200
    assert 'id="balances"' in earnings.text and 'id="payouts"' in earnings.text
    months = app_client.get("/app/statements")
    assert months.status_code == 200
    [month] = re.findall(r'href="/app/statements/(\d{4}-\d{2})"', months.text)[:1]
    page = app_client.get(f"/app/statements/{month}")
    assert page.status_code == 200 and 'id="download"' in page.text
    download = app_client.get(f"/app/statements/{month}", params={"format": "json"})
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    document = download.json()
    assert document["worker"]["handle"] == worker.handle
    verified = app_client.post("/v1/statements/verify", json=document)
    assert verified.status_code == 200 and verified.json()["valid"] is True, verified.text


def test_the_worker_picks_arabic_and_the_page_turns_right_to_left(
    ctx: Any, app_client: TestClient, make_worker: Any
) -> None:
    csrf = log_in(app_client, ctx, make_worker().handle)
    assert '<html lang="en" dir="ltr">' in app_client.get("/app").text
    resp = app_client.post(
        "/app/language", data={"csrf_token": csrf, "locale": "ar", "next": "/app/earnings"},
        follow_redirects=False,
    )  # fmt: skip
    assert resp.status_code == 303 and resp.headers["location"] == "/app/earnings"
    page = app_client.get("/app/earnings")
    assert '<html lang="ar" dir="rtl">' in page.text
    assert "الأرباح" in page.text  # "Earnings"
    sw = app_client.post("/app/language", data={"csrf_token": csrf, "locale": "sw"})
    assert sw.status_code == 200 and '<html lang="sw" dir="ltr">' in sw.text
    assert "Mapato" in app_client.get("/app/earnings").text


def test_the_login_page_follows_the_browser_or_the_chosen_language(app_client: TestClient) -> None:
    app_client.cookies.clear()
    page = app_client.get("/app/login", headers={"Accept-Language": "sw-KE,sw;q=0.9,en;q=0.5"})
    assert '<html lang="sw"' in page.text and "Ingia" in page.text
    chosen = app_client.get("/app/login", params={"lang": "ar"})
    assert '<html lang="ar" dir="rtl">' in chosen.text
    assert app_client.cookies.get("kazi_lang") == "ar"
    assert '<html lang="ar"' in app_client.get("/app/login").text
    app_client.cookies.clear()


@pytest.mark.parametrize(
    ("method", "path", "data", "status"),
    [
        ("GET", "/app/statements/2026-13", None, 422),
        ("GET", "/app/statements/1999-12", None, 422),
        ("GET", "/app/statements/abcd-ef", None, 422),
        ("GET", "/app/statements/2026-1", None, 422),
        ("GET", "/app/statements/2026-011", None, 422),
        ("GET", "/app/statements/2026-11?format=pdf", None, 422),
        ("GET", "/app/feedback?limit=0", None, 422),
        ("GET", "/app/feedback?limit=abc", None, 422),
        ("GET", "/app/earnings?limit=501", None, 422),
        ("GET", "/app/no-such-page", None, 404),
        ("POST", "/app/language", {"locale": "fr"}, 400),
        ("POST", "/app/language", {"locale": ""}, 400),
        ("POST", "/app/language", {"locale": "ar" * 500}, 400),
        ("POST", "/app/language", {}, 400),
        ("DELETE", "/app", None, 405),
    ],
)
def test_bad_page_input_gets_a_clear_4xx_page(
    ctx: Any,
    app_client: TestClient,
    make_worker: Any,
    method: str,
    path: str,
    data: dict[str, str] | None,
    status: int,
) -> None:
    csrf = log_in(app_client, ctx, make_worker().handle)
    if data is not None:
        data = {**data, "csrf_token": csrf}
    resp = app_client.request(method, path, data=data, follow_redirects=False)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("text/html")
    assert 'id="error-message"' in resp.text
    json_resp = app_client.request(
        method, path, data=data, headers={"Accept": "application/json"}, follow_redirects=False
    )
    assert json_resp.status_code == status and "code" in json_resp.json()


def test_error_pages_are_in_the_workers_language(
    ctx: Any, app_client: TestClient, make_worker: Any
) -> None:
    csrf = log_in(app_client, ctx, make_worker().handle)
    app_client.post("/app/language", data={"csrf_token": csrf, "locale": "sw"})
    resp = app_client.get("/app/statements/2026-13")
    assert resp.status_code == 422 and '<html lang="sw"' in resp.text
    assert "mwezi ni YYYY-MM" in resp.text


def test_static_files_and_pages_are_gzipped_and_small(
    ctx: Any, app_client: TestClient, make_worker: Any
) -> None:
    css = app_client.get("/app/static/app.css", headers={"Accept-Encoding": "gzip"})
    assert css.status_code == 200 and css.headers["content-encoding"] == "gzip"
    assert "margin-inline" in css.text and "margin-left" not in css.text  # RTL-safe
    assert len(css.content) < 8_000
    log_in(app_client, ctx, make_worker().handle)
    home = app_client.get("/app", headers={"Accept-Encoding": "gzip"})
    assert home.headers.get("content-encoding") == "gzip"
    # The worker API's routes are left alone (its hot paths, media byte ranges).
    document = app_client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert len(document.content) > 10_000 and "content-encoding" not in document.headers
    assert app_client.get("/app/static/no-such.css").status_code == 404
