"""QA reviewers' API (lease a result to check, accept or correct it) and workers' feedback."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response

from engine.api.deps import Ctx, UoW
from engine.quality import service
from engine.quality.service import QualitySettings
from engine.work.endpoints import Worker
from schemas.work import FeedbackItem, ReviewLeaseView, ReviewNextRequest, ReviewSubmit

router = APIRouter(tags=["review"])


@router.post(
    "/v1/review/next",
    response_model=ReviewLeaseView,
    responses={204: {"description": "No result is waiting for review"}},
    summary="Lease the next result to review (reviewers only)",
)
def next_review(
    ctx: Ctx, uow: UoW, worker: Worker, body: ReviewNextRequest | None = None
) -> ReviewLeaseView | Response:
    lease = service.lease_review(
        uow, worker.id, QualitySettings.from_settings(ctx.settings),
        (body or ReviewNextRequest()).job_id,
    )  # fmt: skip
    if lease is None:
        return Response(status_code=204)
    return ReviewLeaseView(
        lease_id=lease.lease_id, task_id=lease.task_id, job_id=lease.job_id, kind=lease.kind,
        expires_at=lease.expires_at,
        media_url=ctx.store.presigned_get_url(lease.media_key, timedelta(hours=1)),
        labels=lease.labels, consensus=lease.consensus, agreement=lease.agreement,
        reason=lease.reason, answers=lease.answers,
    )  # fmt: skip


@router.post("/v1/review/{lease_id}/submit", status_code=201, summary="Accept or correct")
def submit_review(lease_id: str, body: ReviewSubmit, uow: UoW, worker: Worker) -> dict[str, object]:
    review_id = service.submit_review_and_check_done(
        uow, worker.id, lease_id, body.decision, body.answer,
        client_review_id=body.client_review_id, time_spent_seconds=body.time_spent_seconds,
    )  # fmt: skip
    return {"review_id": review_id, "status": "final"}


@router.get(
    "/v1/work/feedback",
    response_model=list[FeedbackItem],
    tags=["work"],
    summary="Your scored answers: score, word diff against the final text, gold expectations",
)
def my_feedback(
    uow: UoW, worker: Worker, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[FeedbackItem]:
    return [FeedbackItem(**item) for item in service.feedback_for_worker(uow, worker.id, limit)]
