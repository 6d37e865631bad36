"""Training pages of the worker app (/app/training): where the trainee stands, the next item,
and the answer form's result (practice: the feedback at once; qualification: at the end).

Session first (``AppCaller``: the cookie, before any body is read), then ``require_csrf`` on the
POST, then the form. Pages never carry an item's expected answer before it is answered.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from engine.api.deps import get_ctx, run_unit_of_work
from engine.bootstrap import EngineContext
from engine.domain.job_stage import JobKind
from engine.errors import KaziError
from engine.training.service import (
    ItemToAnswer,
    RoundResult,
    TrainingSummary,
    answer_item,
    last_round_result,
    next_item,
    training_summary,
)
from engine.unit_of_work import UnitOfWork
from engine.worker_app.auth import AppCaller, is_form, require_csrf
from engine.worker_app.templating import render

router = APIRouter(prefix="/app/training", tags=["worker app"])

# Signed media links outlive a slow answer on a shared phone, not much more.
MEDIA_LINK_LIFETIME = timedelta(hours=2)
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The training item's id")]


class UnsupportedTrainingForm(KaziError):
    status = 415
    code = "unsupported_media_type"


def _overview(uow: UnitOfWork, worker_id: str) -> tuple[TrainingSummary | None, RoundResult | None]:
    return training_summary(uow, worker_id), last_round_result(uow, worker_id)


@router.get("", summary="Your training: stage, progress, last qualification result")
def training_page(request: Request, caller: AppCaller) -> Response:
    summary, last_result = get_ctx(request).in_unit_of_work(_overview, caller.worker.id)
    return render(request, "training.html", caller, summary=summary, last_result=last_result)


def media_url(ctx: EngineContext, item: ItemToAnswer) -> str:
    """A signed link to what the worker listens to or looks at: the small Opus copy of audio."""
    key = item.lowres_media_key or item.media_key
    return ctx.store.presigned_get_url(key, MEDIA_LINK_LIFETIME)


@router.get("/next", summary="The next practice or qualification item to answer")
def next_item_page(request: Request, caller: AppCaller) -> Response:
    ctx = get_ctx(request)
    item = ctx.in_unit_of_work(next_item, caller.worker.id)
    if item is None:  # no training, qualified, or no items yet: the overview says which
        return RedirectResponse("/app/training", status_code=303)
    return render(
        request,
        "training_item.html",
        caller,
        item=item,
        media_url=media_url(ctx, item),
        media_type=item.kind.media_type,
        transcription=item.kind is JobKind.TRANSCRIPTION,
        # A fresh id per page: a resend of this form is recognised, a new page counts anew.
        client_id=uuid.uuid4().hex,
    )


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def answer_from_form(form: FormData) -> dict[str, Any]:
    """The answer fields the form carries (the item's kind says which one counts)."""
    answer: dict[str, Any] = {}
    for name in ("text", "label"):
        value = _text(form, name)
        if value is not None:
            answer[name] = value
    return answer


@router.post(
    "/{item_id}/answer",
    summary="Answer a training item (form: csrf_token, client_id, text or label)",
)
async def answer_page(request: Request, caller: AppCaller, item_id: ItemId) -> Response:
    form = await require_csrf(request, caller)
    if form is None:  # the token came in the header: the body is still to read
        if not is_form(request):
            raise UnsupportedTrainingForm(
                "send the answer form (application/x-www-form-urlencoded)"
            )
        form = await request.form()
    client_id = _text(form, "client_id") or ""
    outcome = await run_unit_of_work(
        get_ctx(request), answer_item, caller.worker.id, item_id, client_id, answer_from_form(form)
    )
    return render(request, "training_result.html", caller, outcome=outcome)
