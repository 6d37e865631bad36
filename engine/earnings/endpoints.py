"""Earnings API: a worker's pay per answer with balances, disputes of rejected answers, and
reviewers' decisions on them. Keys are checked before bodies (engine/work/endpoints.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from engine.api.deps import UoW, get_ctx, run_unit_of_work
from engine.api.request_body import json_body_doc, read_json_body, read_optional_json_body
from engine.domain.lease_rules import WorkerTier
from engine.earnings import service
from engine.unit_of_work import UnitOfWork
from engine.work.endpoints import Worker, WorkerKey, body_after_key, worker_for_key
from schemas.pay import DisputeDecision, DisputeRequest, DisputeView, EarningsView, OpenDispute

router = APIRouter(tags=["pay"])

# Database ids are 32-bit in SQLite and PostgreSQL integer columns: larger is no such row.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get(
    "/v1/work/earnings",
    response_model=EarningsView,
    tags=["work"],
    summary="What each of your answers and reviews earned and why, and your balances",
)
def my_earnings(
    uow: UoW, worker: Worker, limit: Annotated[int, Query(ge=1, le=500)] = 200
) -> EarningsView:
    return EarningsView.model_validate(service.earnings_for_worker(uow, worker.id, limit))


def _view(view: service.DisputeView) -> DisputeView:
    earned = view.earned.as_json() if view.earned is not None else None
    return DisputeView.model_validate(
        {"dispute_id": view.dispute_id, "answer_id": view.answer_id, "status": view.status,
         "earned": earned}
    )  # fmt: skip


@router.post(
    "/v1/work/answers/{answer_id}/dispute",
    status_code=201,
    response_model=DisputeView,
    tags=["work"],
    summary="Dispute a rejected answer of yours (once); a reviewer decides",
    openapi_extra=json_body_doc(DisputeRequest, required=False),
)
async def dispute_answer(request: Request, answer_id: RowId, key: WorkerKey) -> DisputeView:
    ctx = get_ctx(request)
    body = await body_after_key(ctx, key, read_optional_json_body(request, DisputeRequest))
    reason = body.reason if body is not None else ""
    return _view(await run_unit_of_work(ctx, _dispute, key, answer_id, reason))


def _dispute(uow: UnitOfWork, key: str, answer_id: int, reason: str) -> service.DisputeView:
    return service.dispute_answer(uow, worker_for_key(uow, key).id, answer_id, reason)


@router.get(
    "/v1/review/disputes",
    response_model=list[OpenDispute],
    summary="Open disputes waiting for a reviewer (reviewers only)",
)
def open_disputes(
    uow: UoW, worker: Worker, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[dict[str, Any]]:
    return service.open_disputes(uow, worker.id, limit)


@router.post(
    "/v1/review/disputes/{dispute_id}/decide",
    response_model=DisputeView,
    summary="Overturn (the answer earns) or uphold a dispute (reviewers only)",
    openapi_extra=json_body_doc(DisputeDecision, required=True),
)
async def decide_dispute(request: Request, dispute_id: RowId, key: WorkerKey) -> DisputeView:
    ctx = get_ctx(request)
    try:
        body = await read_json_body(request, DisputeDecision)
    except (RequestValidationError, HTTPException):
        # Like body_after_key, for reviewers only: another tier's 403 comes before the body's.
        await run_unit_of_work(ctx, _reviewer_only, key)
        raise
    return _view(await run_unit_of_work(ctx, _decide, key, dispute_id, body.decision))


def _reviewer_only(uow: UnitOfWork, key: str) -> None:
    if worker_for_key(uow, key).tier != WorkerTier.REVIEWER.value:
        raise service.NotAReviewer("only reviewers decide disputes")


def _decide(uow: UnitOfWork, key: str, dispute_id: int, decision: str) -> service.DisputeView:
    return service.decide_dispute(uow, worker_for_key(uow, key).id, dispute_id, decision)
