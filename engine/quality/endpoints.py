"""QA reviewers' API (lease a result to check, accept or correct it) and workers' feedback."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from engine.api.deps import Ctx, DbSession
from engine.db.models import TaskRow
from engine.jobs.repository import JobRepository
from engine.quality import service
from engine.quality.service import QualitySettings
from engine.quality.triggers import review_done
from engine.work.endpoints import Worker
from engine.work.service import WorkError
from schemas.jobs import JobSpec
from schemas.work import FeedbackItem, ReviewLeaseView, ReviewNextRequest, ReviewSubmit
from workers.dispatch import enqueue_finish_review

router = APIRouter(tags=["review"])


@router.post(
    "/v1/review/next",
    response_model=ReviewLeaseView,
    responses={204: {"description": "No result is waiting for review"}},
    summary="Lease the next result to review (reviewers only)",
)
def next_review(
    ctx: Ctx, session: DbSession, worker: Worker, body: ReviewNextRequest | None = None
) -> ReviewLeaseView | Response:
    try:
        lease = service.lease_review(
            session, worker.id, QualitySettings.from_settings(ctx.settings),
            (body or ReviewNextRequest()).job_id,
        )  # fmt: skip
    except WorkError as exc:
        session.rollback()
        status = 403 if exc.status_code == 404 else exc.status_code
        raise HTTPException(status, exc.message) from exc
    if lease is None:
        session.rollback()
        return Response(status_code=204)
    task = session.get(TaskRow, lease.task_id)
    job = JobRepository(session).get(lease.job_id)
    assert task is not None and job is not None
    session.commit()
    return ReviewLeaseView(
        lease_id=lease.lease_id, task_id=lease.task_id, job_id=lease.job_id, kind=job.kind,
        expires_at=lease.expires_at,
        media_url=ctx.store.presigned_get_url(task.object_key, timedelta(hours=1)),
        labels=JobSpec.model_validate(job.spec).labels, consensus=lease.consensus,
        agreement=lease.agreement, reason=lease.reason, answers=lease.answers,
    )  # fmt: skip


@router.post("/v1/review/{lease_id}/submit", status_code=201, summary="Accept or correct")
def submit_review(
    lease_id: str, body: ReviewSubmit, session: DbSession, worker: Worker
) -> dict[str, object]:
    try:
        review_id = service.submit_review(
            session, worker.id, lease_id, body.decision, body.answer,
            client_review_id=body.client_review_id,
            time_spent_seconds=body.time_spent_seconds,
        )  # fmt: skip
        job_id = session.get(TaskRow, _task_of(session, lease_id)).job_id  # type: ignore[union-attr]
        session.commit()
    except WorkError as exc:
        session.rollback()
        raise HTTPException(exc.status_code, exc.message) from exc
    if review_done(session, job_id):
        enqueue_finish_review(job_id)
    return {"review_id": review_id, "status": "final"}


def _task_of(session: DbSession, lease_id: str) -> str:
    from engine.db.models import LeaseRow

    lease = session.get(LeaseRow, lease_id)
    assert lease is not None
    return lease.task_id


@router.get(
    "/v1/work/feedback",
    response_model=list[FeedbackItem],
    tags=["work"],
    summary="Your scored answers: score, word diff against the final text, gold expectations",
)
def my_feedback(
    session: DbSession, worker: Worker, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[FeedbackItem]:
    return [FeedbackItem(**item) for item in service.feedback_for_worker(session, worker.id, limit)]
