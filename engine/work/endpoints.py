"""Worker API: lease the next task, submit, release (for the mobile app and low bandwidth).

These are the hottest routes of the engine. Each request does its whole unit of work (key
check, use case, commit) in one hop to the thread pool (``run_unit_of_work``): FastAPI runs
every sync dependency in a thread of its own, and those hops, not the SQL, were most of a
request's time under load. The key is checked before the body: its presence in the route's
first step, without a hop (``worker_key``), and its validity before any problem with the body is
reported (``body_after_key``), so a caller without a valid key gets a 401 whatever it sends.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as AnyHTTPException

from engine.api.deps import UoW, get_ctx, run_unit_of_work
from engine.api.request_body import json_body_doc, read_json_body, read_optional_json_body
from engine.bootstrap import EngineContext
from engine.db.models import WorkerRow
from engine.quality.triggers import after_answer
from engine.unit_of_work import UnitOfWork
from engine.work import service
from engine.work.service import DistributionSettings, Lease, LeasedTask
from engine.workforce.service import authenticate_worker
from schemas.work import DraftView, LeaseView, NextRequest, SubmitRequest, SubmitResponse

router = APIRouter(prefix="/v1/work", tags=["work"])

T = TypeVar("T")


async def worker_key(authorization: Annotated[str | None, Header()] = None) -> str:
    # Async: FastAPI runs a plain function dependency in a thread-pool hop of its own.
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise HTTPException(
            401, "missing worker key: send 'Authorization: Bearer <worker key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )  # fmt: skip
    return key.strip()


WorkerKey = Annotated[str, Depends(worker_key)]


def worker_for_key(uow: UnitOfWork, key: str, *, lock: bool = False) -> WorkerRow:
    worker = authenticate_worker(uow, key, lock=lock)
    if worker is None:
        raise HTTPException(401, "invalid worker key", headers={"WWW-Authenticate": "Bearer"})
    return worker


async def body_after_key(ctx: EngineContext, key: str, reading: Awaitable[T]) -> T:
    """The body ``reading`` reads. When it is refused (over the route's limit, invalid,
    missing) the key is checked first: a caller without a valid key learns nothing about what
    it sent. Only this error path costs a hop of its own."""
    try:
        return await reading
    except (RequestValidationError, AnyHTTPException):  # a 413 from the body limit too
        await run_unit_of_work(ctx, worker_for_key, key)
        raise


def current_worker(uow: UoW, key: WorkerKey) -> WorkerRow:
    """The calling worker, for the less busy worker routes (review, feedback)."""
    return worker_for_key(uow, key)


Worker = Annotated[WorkerRow, Depends(current_worker)]


def distribution_settings(ctx: EngineContext) -> DistributionSettings:
    return DistributionSettings.from_settings(ctx.settings)


@router.post(
    "/next",
    response_model=LeaseView,
    responses={204: {"description": "No task is waiting for this worker"}},
    summary="Lease the next task (or get back the lease you hold)",
    openapi_extra=json_body_doc(NextRequest, required=False),
)
async def next_task(request: Request, key: WorkerKey) -> LeaseView | Response:
    ctx = get_ctx(request)
    body = await body_after_key(ctx, key, read_optional_json_body(request, NextRequest))
    body = body or NextRequest()
    leased = await run_unit_of_work(ctx, _lease_next, key, body.job_id, distribution_settings(ctx))
    if leased is None:
        return Response(status_code=204)
    lease, view = leased
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


def _lease_next(
    uow: UnitOfWork, key: str, job_id: str | None, settings: DistributionSettings
) -> tuple[Lease, LeasedTask] | None:
    # The key lookup also locks the worker's row: a worker's own leases go one at a time.
    worker = worker_for_key(uow, key, lock=True)
    lease = service.lease_next(uow, worker.id, settings, job_id=job_id, locked_worker=worker)
    return (lease, service.leased_task(uow, lease)) if lease is not None else None


@router.post(
    "/{lease_id}/submit",
    response_model=SubmitResponse,
    status_code=201,
    summary="Submit the answer for a lease (idempotent by client_answer_id)",
    openapi_extra=json_body_doc(SubmitRequest, required=True),
)
async def submit_answer(
    request: Request, lease_id: str, key: WorkerKey, response: Response
) -> SubmitResponse:
    ctx = get_ctx(request)
    body = await body_after_key(ctx, key, read_json_body(request, SubmitRequest))
    result = await run_unit_of_work(ctx, _submit, key, lease_id, body)
    if result.replayed:
        response.status_code = 200
    return SubmitResponse(answer_id=result.answer_id, replayed=result.replayed, late=result.late)


def _submit(uow: UnitOfWork, key: str, lease_id: str, body: SubmitRequest) -> service.SubmitResult:
    worker = worker_for_key(uow, key)
    result = service.submit(
        uow,
        worker.id,
        lease_id,
        body.answer,
        client_answer_id=body.client_answer_id,
        time_spent_seconds=body.time_spent_seconds,
    )
    if not result.replayed:
        # In the answer's own transaction: the last answer's commit sends the job to scoring.
        after_answer(uow, result.job_id)
    return result


@router.post("/{lease_id}/release", summary="Give the task back to the pool")
async def release_lease(request: Request, lease_id: str, key: WorkerKey) -> dict[str, str]:
    await run_unit_of_work(get_ctx(request), _release, key, lease_id)
    return {"status": "released"}


def _release(uow: UnitOfWork, key: str, lease_id: str) -> None:
    service.release(uow, worker_for_key(uow, key).id, lease_id)
