"""Publishing to a real Label Studio and taking its answers in exactly once (webhooks, and
reconciliation after the engine API was down)."""

from __future__ import annotations

import io
import time
import uuid

import pytest
from sqlalchemy import select

from engine.publishing.ls_server import label_studio_server
from tests.conftest import SPEECH, make_client, wait_for_stage


def _worker_with_login(ctx, gateway, handle: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    from engine.workforce.service import enrol_in_label_studio, label_studio_token, register_worker

    w = ctx.in_unit_of_work(register_worker, handle, "qualified")
    ctx.in_unit_of_work(enrol_in_label_studio, gateway, w.id, "Worker-pass-2026!")
    token = ctx.in_unit_of_work(label_studio_token, w.id, ctx.token_cipher)
    assert token
    return w.id, token


def _answers(ctx, job_id):  # type: ignore[no-untyped-def]
    from engine.db.models import AnswerRow

    with ctx.sessions() as session:
        return session.scalars(select(AnswerRow).where(AnswerRow.job_id == job_id)).all()


def _refused(ctx):  # type: ignore[no-untyped-def]
    from engine.db.models import RefusedAnnotationRow

    with ctx.sessions() as session:
        return [
            (r.ls_annotation_id, r.reason) for r in session.scalars(select(RefusedAnnotationRow))
        ]


def _wait_answers(ctx, job_id, n, timeout=30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _answers(ctx, job_id)
        if len(rows) >= n:
            return rows
        time.sleep(0.3)
    return _answers(ctx, job_id)


def _textarea(text: str) -> list[dict]:  # type: ignore[type-arg]
    return [{"from_name": "transcription", "to_name": "audio", "type": "textarea",
             "value": {"text": [text]}}]  # fmt: skip


def test_publish_answer_as_two_workers_and_reconcile_after_downtime(ctx, stack, label_studio):
    from engine.db.models import LabelStudioProjectRow, LabelStudioTaskRow, RefusedAnnotationRow
    from engine.jobs.intake import IncomingFile, submit_job
    from engine.label_studio_sync.service import reconcile
    from engine.labeling.gateway_factory import PublishingGateway
    from engine.labeling.label_studio_gateway import LabelStudioGateway
    from engine.work.service import DistributionSettings
    from schemas.jobs import JobSpec

    admin = PublishingGateway(label_studio.url, label_studio.token)
    tag = uuid.uuid4().hex[:6]
    w1, tok1 = _worker_with_login(ctx, admin, f"ls1-{tag}")
    w2, tok2 = _worker_with_login(ctx, admin, f"ls2-{tag}")

    client_id, _ = make_client(ctx)
    job_id = submit_job(
        stack.uow(), ctx.store, client_id=client_id,
        spec=JobSpec(kind="transcription", overlap=2, gold_ratio=0.0),
        files=[IncomingFile("jfk.flac", io.BytesIO((SPEECH / "jfk.flac").read_bytes())),
               IncomingFile("libri.flac", io.BytesIO(
                   (SPEECH / "librispeech" / "1089-134686-0001.flac").read_bytes()))],
        max_upload_bytes=10**9, max_files=10,
    )  # fmt: skip
    assert wait_for_stage(ctx, job_id, {"labeling", "failed"}, 300, stack.worker) == "labeling"

    with ctx.sessions() as session:
        projects = {
            p.replica: p.ls_project_id
            for p in session.scalars(
                select(LabelStudioProjectRow).where(LabelStudioProjectRow.job_id == job_id)
            )
        }
        links = session.scalars(
            select(LabelStudioTaskRow).where(
                LabelStudioTaskRow.ls_project_id.in_(projects.values())
            )
        ).all()
    assert sorted(projects) == [0, 1]
    assert len(links) == 2 * 2
    # What a retried publish looks for before it makes a project: each one, by its exact title.
    for replica, ls_id in projects.items():
        found = admin.projects_titled(f"Kazi transcription {job_id[:8]} #{replica + 1}")
        assert [pid for pid, about in found if job_id in about] == [ls_id]
    ls_task = {(link.task_id, link.replica): link.ls_task_id for link in links}
    task_a, task_b = sorted({link.task_id for link in links})
    # The draft went in as a prediction and the low-confidence view as data.
    imported = admin._client.tasks.get(id=ls_task[(task_a, 0)])
    assert imported.data["kazi_task_id"] == task_a and imported.data["audio"].startswith("http")
    assert "draft_html" in imported.data

    # Two workers answer task A, one per replica project: the webhooks file both, once.
    a1 = LabelStudioGateway(label_studio.url, tok1).annotate(
        ls_task[(task_a, 0)], _textarea("and so my fellow americans"), 12.5
    )
    LabelStudioGateway(label_studio.url, tok2).annotate(
        ls_task[(task_a, 1)], _textarea("and so my fellow americans ask not"), 20.0
    )
    rows = _wait_answers(ctx, job_id, 2)
    assert sorted((r.worker_id, r.source) for r in rows) == sorted(
        [(w1, "label_studio"), (w2, "label_studio")]
    ), (stack.log_tail(), _refused(ctx))
    first = next(r for r in rows if r.ls_annotation_id == a1)
    assert first.payload == {"text": "and so my fellow americans"}
    assert first.time_spent_seconds == pytest.approx(12.5)

    # The engine API goes down while both workers answer task B.
    stack.stop_api()
    LabelStudioGateway(label_studio.url, tok1).annotate(ls_task[(task_b, 1)], _textarea("b one"), 5)
    LabelStudioGateway(label_studio.url, tok2).annotate(ls_task[(task_b, 0)], _textarea("b two"), 6)
    # Worker 1 also answers task A a second time, in the other copy: that is refused.
    dup = LabelStudioGateway(label_studio.url, tok1).annotate(
        ls_task[(task_a, 1)], _textarea("again"), 3
    )
    time.sleep(1.0)
    assert len(_answers(ctx, job_id)) == 2
    stack.start_api()

    settings = DistributionSettings()
    # Through the stack's unit of work: the last answer's scoring step goes to its worker.
    server = label_studio_server(label_studio.url)
    report = reconcile(stack.uow(), admin, server, settings, job_id)
    assert (report.accepted, report.refused) == (2, 1)
    again = reconcile(stack.uow(), admin, server, settings, job_id)
    assert (again.accepted, again.refused) == (0, 0)
    rows = _answers(ctx, job_id)
    assert len(rows) == 4
    assert len({(r.task_id, r.worker_id) for r in rows}) == 4
    assert len({r.ls_annotation_id for r in rows}) == 4
    with ctx.sessions() as session:
        refused = session.get(RefusedAnnotationRow, (server, dup))
    assert refused is not None and "answered this task already" in refused.reason

    # Every slot is answered: scoring sends the disagreeing results to the Label Studio review
    # project, with the consensus as the prediction; a reviewer accepts one and corrects one.
    stack.send("kazi.score.score_job", job_id, "score")
    assert (
        wait_for_stage(ctx, job_id, {"reviewing", "assembling", "failed"}, 120, stack.worker)
        == "reviewing"
    )
    from engine.db.models import TaskResultRow
    from engine.workforce.service import set_tier

    reviewer_id, reviewer_token = _worker_with_login(ctx, admin, f"rv-{tag}")
    ctx.in_unit_of_work(set_tier, f"rv-{tag}", "reviewer")
    with ctx.sessions() as session:
        in_review = sorted(
            r.task_id
            for r in session.scalars(select(TaskResultRow).where(TaskResultRow.job_id == job_id))
            if r.status == "in_review"
        )
    assert in_review, "expected disagreeing answers to need review"
    deadline = time.monotonic() + 60
    review_links: list = []
    while time.monotonic() < deadline and len(review_links) < len(in_review):
        with ctx.sessions() as session:
            review_links = session.scalars(
                select(LabelStudioTaskRow).where(LabelStudioTaskRow.replica == -1,
                                                 LabelStudioTaskRow.task_id.in_(in_review))
            ).all()  # fmt: skip
        time.sleep(0.5)
    assert len(review_links) == len(in_review), stack.worker.tail()  # type: ignore[union-attr]
    by_task = {link.task_id: link.ls_task_id for link in review_links}
    reviewer = LabelStudioGateway(label_studio.url, reviewer_token)
    corrected = in_review[0]
    reviewer.annotate(by_task[corrected], _textarea("reviewed text"), 9)
    for task_id in in_review[1:]:
        # Submitting the consensus prediction unchanged accepts it.
        prediction = admin._client.tasks.get(id=by_task[task_id]).predictions[0]
        result = prediction["result"] if isinstance(prediction, dict) else prediction.result
        reviewer.annotate(by_task[task_id], result, 7)
    assert wait_for_stage(ctx, job_id, {"delivered", "failed"}, 120, stack.worker) == "delivered"
    with ctx.sessions() as session:
        results = {t: session.get(TaskResultRow, t) for t in in_review}
    assert results[corrected].final == {"text": "reviewed text"}  # type: ignore[union-attr]
    for task_id, result in results.items():
        assert result.final_source == "review", task_id  # type: ignore[union-attr]
        if task_id != corrected:
            assert result.final == result.consensus  # type: ignore[union-attr]
    del reviewer_id, task_b


def test_start_link_leases_then_opens_the_task_in_label_studio(ctx, stack, label_studio):
    import httpx

    from engine.db.models import LabelStudioTaskRow, LeaseRow
    from engine.jobs.intake import IncomingFile, submit_job
    from engine.labeling.label_studio_gateway import LabelStudioGateway
    from engine.work.start_links import start_link
    from schemas.jobs import JobSpec

    admin = LabelStudioGateway(label_studio.url, label_studio.token)
    tag = uuid.uuid4().hex[:6]
    w1, tok1 = _worker_with_login(ctx, admin, f"st1-{tag}")
    w2, _ = _worker_with_login(ctx, admin, f"st2-{tag}")
    client_id, _ = make_client(ctx)
    job_id = submit_job(
        stack.uow(), ctx.store, client_id=client_id,
        spec=JobSpec(kind="transcription", overlap=1, gold_ratio=0.0),
        files=[IncomingFile("jfk.flac", io.BytesIO((SPEECH / "jfk.flac").read_bytes()))],
        max_upload_bytes=10**9, max_files=10,
    )  # fmt: skip
    assert wait_for_stage(ctx, job_id, {"labeling", "failed"}, 300, stack.worker) == "labeling"
    secret = ctx.settings.signing_secret

    forged = httpx.get(start_link(stack.url, w1, "not-the-secret"), follow_redirects=False)
    assert forged.status_code == 403
    go = httpx.get(start_link(stack.url, w1, secret) + f"&job_id={job_id}", follow_redirects=False)
    assert go.status_code == 303, go.text
    assert go.headers["location"].startswith(f"{label_studio.url}/projects/")
    ls_task_id = int(go.headers["location"].rsplit("task=", 1)[1])
    # The only slot is leased to worker 1: worker 2's link finds nothing to do.
    none = httpx.get(start_link(stack.url, w2, secret) + f"&job_id={job_id}")
    assert none.status_code == 200 and "No task is waiting" in none.text

    LabelStudioGateway(label_studio.url, tok1).annotate(ls_task_id, _textarea("ask not"), 9)
    rows = _wait_answers(ctx, job_id, 1)
    assert len(rows) == 1 and rows[0].worker_id == w1 and rows[0].source == "label_studio"
    with ctx.sessions() as session:
        lease = session.get(LeaseRow, rows[0].lease_id)
        link = session.get(LabelStudioTaskRow, (label_studio_server(label_studio.url), ls_task_id))
    # Filed under the lease the start link made, not a new one.
    assert lease is not None and lease.channel == "label_studio" and lease.outcome == "submitted"
    assert link is not None and link.task_id == rows[0].task_id
