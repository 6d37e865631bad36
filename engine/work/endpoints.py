"""Worker API: lease the next task, submit, release (for the mobile app and low bandwidth).

These are the hottest routes of the engine. Each request does its whole unit of work (key
check, use case, commit) in one hop to the thread pool: FastAPI runs every sync dependency in a
thread of its own, and those hops, not the SQL, were most of a request's time under load.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from engine.api.deps import Ctx, DbSession
from engine.bootstrap import EngineContext
from engine.db.models import WorkerRow
from engine.quality.triggers import job_ready_after_answer
from engine.work import service
from engine.work.service import DistributionSettings
from engine.workforce.service import authenticate_worker
from schemas.work import DraftView, LeaseView, NextRequest, SubmitRequest, SubmitResponse
from workers.dispatch import enqueue_score

router = APIRouter(prefix="/v1/work", tags=["work"])
log = logging.getLogger(__name__)


def worker_key(authorization: Annotated[str | None, Header()] = None) -> str:
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise HTTPException(
            401, "missing worker key: send 'Authorization: Bearer <worker key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )  # fmt: skip
    return key.strip()


WorkerKey = Annotated[str, Depends(worker_key)]


def _authenticated(session: Session, key: str, *, lock: bool = False) -> WorkerRow:
    worker = authenticate_worker(session, key, lock=lock)
    if worker is None:
        raise HTTPException(401, "invalid worker key", headers={"WWW-Authenticate": "Bearer"})
    return worker


def current_worker(session: DbSession, key: WorkerKey) -> WorkerRow:
    """The calling worker, for the less busy worker routes (review, feedback)."""
    return _authenticated(session, key)


Worker = Annotated[WorkerRow, Depends(current_worker)]


def queue_scoring(job_id: str) -> None:
    try:
        enqueue_score(job_id)
    except Exception:  # the job stays in labeling; the beat sweep sends it
        log.exception("could not queue job %s for scoring", job_id)


def score_when_complete(session: Session, job_id: str) -> None:
    """The last answer of a job sends it to the score stage (the beat sweep covers deadlines
    and any job this misses)."""
    if job_ready_after_answer(session, job_id):
        queue_scoring(job_id)


def distribution_settings(ctx: Ctx) -> DistributionSettings:
    s = ctx.settings
    return DistributionSettings(float(s.lease_seconds), s.trainee_gold_ratio)


def _work_error(exc: service.WorkError) -> HTTPException:
    return HTTPException(exc.status_code, exc.message)


@router.post(
    "/next",
    response_model=LeaseView,
    responses={204: {"description": "No task is waiting for this worker"}},
    summary="Lease the next task (or get back the lease you hold)",
)
async def next_task(
    ctx: Ctx, key: WorkerKey, body: NextRequest | None = None
) -> LeaseView | Response:
    return await run_in_threadpool(_lease_next, ctx, key, body or NextRequest())


def _lease_next(ctx: EngineContext, key: str, body: NextRequest) -> LeaseView | Response:
    with ctx.sessions() as session:
        # The key lookup also locks the worker's row: a worker's own leases go one at a time.
        worker = _authenticated(session, key, lock=True)
        try:
            lease = service.lease_next(
                session, worker.id, distribution_settings(ctx), job_id=body.job_id,
                locked_worker=worker,
            )  # fmt: skip
            if lease is None:
                session.rollback()
                return Response(status_code=204)
            view = service.leased_task(session, lease)
            session.commit()
        except service.WorkError as exc:
            session.rollback()
            raise _work_error(exc) from exc
    media_key = view.lowres_media_key if body.lowres and view.lowres_media_key else view.media_key
    expiry = timedelta(seconds=max(ctx.settings.lease_seconds, 300) + 300)
    return LeaseView(
        lease_id=lease.lease_id,
        task_id=lease.task_id,
        job_id=lease.job_id,
        kind=view.kind,
        expires_at=lease.expires_at,
        media_url=ctx.store.presigned_get_url(media_key, expiry),
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
async def submit_answer(
    ctx: Ctx, lease_id: str, body: SubmitRequest, key: WorkerKey, response: Response
) -> SubmitResponse:
    result = await run_in_threadpool(_submit, ctx, key, lease_id, body)
    if result.replayed:
        response.status_code = 200
    return SubmitResponse(answer_id=result.answer_id, replayed=result.replayed, late=result.late)


def _submit(
    ctx: EngineContext, key: str, lease_id: str, body: SubmitRequest
) -> service.SubmitResult:
    with ctx.sessions() as session:
        worker = _authenticated(session, key)
        try:
            result = service.submit(
                session,
                worker.id,
                lease_id,
                body.answer,
                client_answer_id=body.client_answer_id,
                time_spent_seconds=body.time_spent_seconds,
            )
            # Checked before the commit, in the same transaction (no second one per answer);
            # two last answers committing at once both miss it, and the beat sweep sends that
            # job within a minute.
            complete = not result.replayed and job_ready_after_answer(session, result.job_id)
            session.commit()
        except service.WorkError as exc:
            session.rollback()
            raise _work_error(exc) from exc
    if complete:
        queue_scoring(result.job_id)
    return result


@router.post("/{lease_id}/release", summary="Give the task back to the pool")
async def release_lease(ctx: Ctx, lease_id: str, key: WorkerKey) -> dict[str, str]:
    return await run_in_threadpool(_release, ctx, key, lease_id)


def _release(ctx: EngineContext, key: str, lease_id: str) -> dict[str, str]:
    with ctx.sessions() as session:
        worker = _authenticated(session, key)
        try:
            service.release(session, worker.id, lease_id)
            session.commit()
        except service.WorkError as exc:
            session.rollback()
            raise _work_error(exc) from exc
    return {"status": "released"}
