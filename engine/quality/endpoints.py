"""QA reviewers' API (lease a result to check, accept or correct it) and workers' feedback.

The review routes check the key before they read the body, as the worker routes do
(engine/work/endpoints.py), and run their unit of work in one hop to the thread pool.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from engine.api.deps import UoW, get_ctx, run_unit_of_work
from engine.api.request_body import json_body_doc, read_json_body, read_optional_json_body
from engine.bootstrap import EngineContext
from engine.domain.lease_rules import WorkerTier
from engine.quality import service
from engine.quality.service import QualitySettings
from engine.unit_of_work import UnitOfWork
from engine.work.endpoints import Worker, WorkerKey, body_after_key, worker_for_key
from engine.work.service import NotAReviewer
from schemas.work import FeedbackItem, ReviewLeaseView, ReviewNextRequest, ReviewSubmit

router = APIRouter(tags=["review"])


def _reviewer_only(uow: UnitOfWork, key: str) -> None:
    if worker_for_key(uow, key).tier != WorkerTier.REVIEWER.value:
        raise NotAReviewer("only reviewers can take review tasks")


async def _body_after_reviewer_key(
    ctx: EngineContext, key: str, reading: Awaitable[ReviewNextRequest | None]
) -> ReviewNextRequest | None:
    """``body_after_key`` for reviewers only: a worker of another tier gets its 403 before
    anything about its body (413, 422)."""
    try:
        return await reading
    except (RequestValidationError, HTTPException):
        await run_unit_of_work(ctx, _reviewer_only, key)
        raise


@router.post(
    "/v1/review/next",
    response_model=ReviewLeaseView,
    responses={204: {"description": "No result is waiting for review"}},
    summary="Lease the next result to review (reviewers only)",
    openapi_extra=json_body_doc(ReviewNextRequest, required=False),
)
async def next_review(request: Request, key: WorkerKey) -> ReviewLeaseView | Response:
    ctx = get_ctx(request)
    reading = read_optional_json_body(request, ReviewNextRequest)
    body = await _body_after_reviewer_key(ctx, key, reading)
    settings = QualitySettings.from_settings(ctx.settings)
    job_id = body.job_id if body else None
    lease = await run_unit_of_work(ctx, _lease_review, key, settings, job_id)
    if lease is None:
        return Response(status_code=204)
    return ReviewLeaseView(
        lease_id=lease.lease_id, task_id=lease.task_id, job_id=lease.job_id, kind=lease.kind,
        expires_at=lease.expires_at,
        media_url=ctx.store.presigned_get_url(lease.media_key, timedelta(hours=1)),
        labels=lease.labels, consensus=lease.consensus, agreement=lease.agreement,
        reason=lease.reason, answers=lease.answers,
    )  # fmt: skip


def _lease_review(
    uow: UnitOfWork, key: str, settings: QualitySettings, job_id: str | None
) -> service.ReviewLease | None:
    return service.lease_review(uow, worker_for_key(uow, key).id, settings, job_id)


@router.post(
    "/v1/review/{lease_id}/submit",
    status_code=201,
    summary="Accept or correct",
    openapi_extra=json_body_doc(ReviewSubmit, required=True),
)
async def submit_review(request: Request, lease_id: str, key: WorkerKey) -> dict[str, Any]:
    ctx = get_ctx(request)
    body = await body_after_key(ctx, key, read_json_body(request, ReviewSubmit))
    review_id = await run_unit_of_work(ctx, _submit_review, key, lease_id, body)
    return {"review_id": review_id, "status": "final"}


def _submit_review(uow: UnitOfWork, key: str, lease_id: str, body: ReviewSubmit) -> int:
    return service.submit_review_and_check_done(
        uow, worker_for_key(uow, key).id, lease_id, body.decision, body.answer,
        client_review_id=body.client_review_id, time_spent_seconds=body.time_spent_seconds,
    )  # fmt: skip


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
