"""Worker API: lease the next task, submit, release (for the mobile app and low bandwidth)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Response
from sqlalchemy.orm import Session

from engine.api.deps import Ctx, DbSession
from engine.db.models import WorkerRow
from engine.quality.triggers import job_ready_after_answer
from engine.work import service
from engine.work.service import DistributionSettings
from engine.workforce.service import authenticate_worker
from schemas.work import DraftView, LeaseView, NextRequest, SubmitRequest, SubmitResponse
from workers.dispatch import enqueue_score

router = APIRouter(prefix="/v1/work", tags=["work"])
log = logging.getLogger(__name__)


def current_worker(
    session: DbSession, authorization: Annotated[str | None, Header()] = None
) -> WorkerRow:
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise HTTPException(
            401, "missing worker key: send 'Authorization: Bearer <worker key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )  # fmt: skip
    worker = authenticate_worker(session, key.strip())
    if worker is None:
        raise HTTPException(401, "invalid worker key", headers={"WWW-Authenticate": "Bearer"})
    return worker


Worker = Annotated[WorkerRow, Depends(current_worker)]


def score_when_complete(session: Session, job_id: str) -> None:
    """The last answer of a job sends it to the score stage (the beat sweep covers deadlines)."""
    if job_ready_after_answer(session, job_id):
        try:
            enqueue_score(job_id)
        except Exception:  # the job stays in labeling; the next answer or a rerun sends it
            log.exception("could not queue job %s for scoring", job_id)


def distribution_settings(ctx: Ctx) -> DistributionSettings:
    s = ctx.settings
    return DistributionSettings(float(s.lease_seconds), s.trainee_gold_ratio)


@router.post(
    "/next",
    response_model=LeaseView,
    responses={204: {"description": "No task is waiting for this worker"}},
    summary="Lease the next task (or get back the lease you hold)",
)
def next_task(
    ctx: Ctx, session: DbSession, worker: Worker, body: NextRequest | None = None
) -> LeaseView | Response:
    body = body or NextRequest()
    worker_id = worker.id
    try:
        lease = service.lease_next(
            session, worker_id, distribution_settings(ctx), job_id=body.job_id
        )
        if lease is None:
            session.rollback()
            return Response(status_code=204)
        view = service.leased_task(session, lease)
        session.commit()
    except service.WorkError as exc:
        session.rollback()
        raise HTTPException(exc.status_code, exc.message) from exc
    key = view.lowres_media_key if body.lowres and view.lowres_media_key else view.media_key
    expiry = timedelta(seconds=max(ctx.settings.lease_seconds, 300) + 300)
    return LeaseView(
        lease_id=lease.lease_id,
        task_id=lease.task_id,
        job_id=lease.job_id,
        kind=view.kind,
        expires_at=lease.expires_at,
        media_url=ctx.store.presigned_get_url(key, expiry),
        media_type="audio" if view.kind == "transcription" else "image",
        labels=view.labels,
        draft=DraftView(**view.draft) if view.draft else None,
        start=view.start,
        end=view.end,
        width=view.width,
        height=view.height,
    )


@router.post(
    "/{lease_id}/submit",
    response_model=SubmitResponse,
    status_code=201,
    summary="Submit the answer for a lease (idempotent by client_answer_id)",
)
def submit_answer(
    lease_id: str, body: SubmitRequest, session: DbSession, worker: Worker, response: Response
) -> SubmitResponse:
    try:
        result = service.submit(
            session,
            worker.id,
            lease_id,
            body.answer,
            client_answer_id=body.client_answer_id,
            time_spent_seconds=body.time_spent_seconds,
        )
        session.commit()
    except service.WorkError as exc:
        session.rollback()
        raise HTTPException(exc.status_code, exc.message) from exc
    if result.replayed:
        response.status_code = 200
    else:
        score_when_complete(session, result.job_id)
    return SubmitResponse(answer_id=result.answer_id, replayed=result.replayed, late=result.late)


@router.post("/{lease_id}/release", summary="Give the task back to the pool")
def release_lease(lease_id: str, session: DbSession, worker: Worker) -> dict[str, str]:
    try:
        service.release(session, worker.id, lease_id)
        session.commit()
    except service.WorkError as exc:
        session.rollback()
        raise HTTPException(exc.status_code, exc.message) from exc
    return {"status": "released"}
