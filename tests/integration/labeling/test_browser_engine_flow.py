"""A trainee's whole path in a real browser: the engine publishes a job to Label Studio, the
worker logs in, follows their engine start link to the leased task, sees the machine draft,
hears the engine-served audio (no CORS error), corrects the draft and submits; the engine
files that answer from the webhook."""

from __future__ import annotations

import io
import time
import uuid

from playwright.sync_api import Browser, expect
from sqlalchemy import select

from tests.browser import log_in_label_studio, open_page
from tests.conftest import SPEECH, make_client, wait_for_stage
from tests.integration.labeling.engine_stack import EngineStack
from tests.integration.labeling.test_browser_audio import (
    SEL_AUDIO,
    SEL_REGION,
    SEL_REGION_EDIT,
    SEL_REGION_INPUT,
    SEL_REGION_SAVE,
    SEL_REGION_TEXT,
    SEL_SUBMIT,
    waveform_pixels,
)

PASSWORD = "Trainee-pass-2026!"
EDITED = "And so, my fellow Americans: ask not what your country can do for you."


def test_trainee_answers_through_start_link_in_the_browser(
    browser: Browser,
    ctx,  # type: ignore[no-untyped-def]
    stack: EngineStack,
    label_studio,  # type: ignore[no-untyped-def]
) -> None:
    from engine.db.models import AnswerRow, DraftRow, TaskRow
    from engine.jobs.intake import IncomingFile, submit_job
    from engine.labeling.label_studio_gateway import LabelStudioGateway
    from engine.work.start_links import start_link
    from engine.workforce.service import enrol_in_label_studio, register_worker
    from schemas.jobs import JobSpec

    admin = LabelStudioGateway(label_studio.url, label_studio.token)
    worker = ctx.in_unit_of_work(register_worker, f"br-{uuid.uuid4().hex[:8]}", "trainee")
    email = ctx.in_unit_of_work(enrol_in_label_studio, admin, worker.id, PASSWORD)
    client_id, _ = make_client(ctx)
    job_id = submit_job(
        stack.uow(), ctx.store, client_id=client_id,
        spec=JobSpec(kind="transcription", overlap=1, gold_ratio=0.0),
        files=[IncomingFile("jfk.flac", io.BytesIO((SPEECH / "jfk.flac").read_bytes()))],
        max_upload_bytes=10**9, max_files=10,
    )  # fmt: skip
    assert wait_for_stage(ctx, job_id, {"labeling", "failed"}, 300, stack.worker) == "labeling"
    with ctx.sessions() as session:
        draft = session.scalar(select(DraftRow).join(TaskRow).where(TaskRow.job_id == job_id))
    assert draft is not None and draft.text

    link = start_link(stack.url, worker.id, ctx.settings.signing_secret) + f"&job_id={job_id}"
    with open_page(browser) as wp:
        page, log = wp.page, wp.log
        try:
            log_in_label_studio(page, label_studio.url, email, PASSWORD)
            # The engine leases the task and redirects to it in Label Studio.
            page.goto(link)
            page.wait_for_url(f"{label_studio.url}/projects/**")
            page.wait_for_function(
                "(sel) => { const a = document.querySelector(sel);"
                " return a && a.readyState >= 1 && a.duration > 5; }",
                arg=SEL_AUDIO,
                timeout=60_000,
            )
            region = page.locator(SEL_REGION)
            expect(region).to_have_count(1)
            expect(region.locator(SEL_REGION_TEXT)).to_have_text(draft.text)
            deadline = time.monotonic() + 20
            while waveform_pixels(page) <= 1000 and time.monotonic() < deadline:
                page.wait_for_timeout(250)
            assert waveform_pixels(page) > 1000
            assert log.requests_to(f"{stack.url}/v1/media/", "GET"), log.report()
            assert not log.failed_requests(f"{stack.url}/v1/media/"), log.report()
            assert not log.cors_errors(), log.report()
            wp.screenshot("engine-start-link-task.png")

            region.locator(SEL_REGION_EDIT).click()
            page.fill(SEL_REGION_INPUT, EDITED)
            page.click(SEL_REGION_SAVE)
            expect(region.locator(SEL_REGION_TEXT)).to_have_text(EDITED)
            with page.expect_response(
                lambda r: r.request.method == "POST" and "/annotations" in r.url
            ) as submitted:
                page.click(SEL_SUBMIT)
            assert submitted.value.status == 201, submitted.value.text()
        except BaseException:
            wp.screenshot("failed-engine-start-link-task.png", full_page=True)
            raise

    # The webhook filed the answer under the lease the start link made.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with ctx.sessions() as session:
            answer = session.scalar(select(AnswerRow).where(AnswerRow.job_id == job_id))
        if answer is not None:
            break
        time.sleep(0.3)
    assert answer is not None, stack.log_tail()
    assert answer.worker_id == worker.id and answer.source == "label_studio"
    assert answer.payload == {"text": EDITED}
    assert answer.lease_id is not None and answer.time_spent_seconds is not None
