"""The app's task pages: lease one task, show it in the light or the full editor, take the
answer in (a form, or JSON from the editors' scripts and the offline outbox), keep the lease
alive while the worker is at it, give it back on skip; and the service worker's script.

Every route knows its caller from the session cookie (``AppCaller``) before anything else, and
every POST checks the session's CSRF token (``require_csrf``) before its body is read. The
lease, submit and release are the worker API's use cases (engine/work/service.py) on the
``app`` channel; a submit is filed once per ``client_answer_id`` (``app-<lease_id>``), so the
outbox may send it again after a lost connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from engine.api.deps import get_ctx, run_unit_of_work
from engine.api.errors import ErrorBody
from engine.api.request_body import json_body_doc, read_json_body, read_optional_json_body
from engine.bootstrap import EngineContext
from engine.domain.labeling_payload import LabelingPayloadError
from engine.domain.lease_rules import as_utc, is_live
from engine.errors import KaziError
from engine.quality.triggers import after_answer
from engine.unit_of_work import UnitOfWork
from engine.work import service
from engine.work.service import DistributionSettings, InvalidAnswer, LeasedTask, LeaseNotFound
from engine.worker_app import i18n
from engine.worker_app.auth import (
    AppCaller,
    AppCallerInfo,
    app_settings_of,
    is_form,
    require_csrf,
)
from engine.worker_app.task_views import (
    EDITOR_COOKIE,
    LEASE_ENDED_MESSAGE,
    OUTCOME_MESSAGES,
    PAUSED_MESSAGE,
    REFUSAL_MESSAGES,
    SKIPPED_MESSAGE,
    TRAINING_MESSAGE,
    AppFormSubmit,
    AppSubmitRequest,
    Editor,
    HeartbeatRequest,
    Outcome,
    Refusal,
    TaskPageView,
    answer_from_page,
    choose_editor,
    client_answer_id_for,
    full_editor_setup,
    media_key_for,
    refusal_of,
    same_origin_path,
    task_page_view,
)
from engine.worker_app.templating import render, request_locale
from schemas.safe_text import ShortId

router = APIRouter(prefix="/app", tags=["worker app"])

CHANNEL = "app"
SERVICE_WORKER = Path(__file__).parent / "static" / "sw.js"
# Label Studio's frontend styles its widgets with inline styles and <style> elements.
FULL_EDITOR_CSP = {"style-src": "'unsafe-inline'"}
EDITOR_COOKIE_SECONDS = 365 * 24 * 3600
JOB_COOKIE = "kazi_job"  # the job a coordinator's link pointed the worker to
JOB_COOKIE_SECONDS = 12 * 3600
LeaseId = Annotated[str, PathParam(max_length=64, description="The lease id")]
Done = Literal["filed", "replayed", "late_filed", "skipped"]


def _settings(ctx: EngineContext) -> DistributionSettings:
    return DistributionSettings.from_settings(ctx.settings)


def _locale(request: Request, caller: AppCallerInfo) -> str:
    return request_locale(request, caller)


def _say(request: Request, caller: AppCallerInfo, message: str) -> str:
    return i18n.gettext(_locale(request, caller), message)


# -- the task page ---------------------------------------------------------------------------


def _lease_page(
    uow: UnitOfWork, worker_id: str, settings: DistributionSettings, job_id: str | None
) -> LeasedTask | None:
    # One lease at a time: the one held, in whatever job, before a new one in the chosen job.
    lease = service.held_lease(uow, worker_id) if job_id is not None else None
    if lease is None:
        lease = service.lease_next(uow, worker_id, settings, channel=CHANNEL, job_id=job_id)
    return service.leased_task(uow, lease) if lease is not None else None


def _media_url(ctx: EngineContext, key: str) -> str:
    # As the worker API links it: valid a while past the lease (a late submit still plays).
    expiry = timedelta(seconds=max(ctx.settings.lease_seconds, 300) + 300)
    return same_origin_path(ctx.store.presigned_get_url(key, expiry), ctx.settings.public_url)


@router.get("/task", summary="Lease a task (or the one you hold) and show it in an editor")
async def task_page(
    request: Request,
    caller: AppCaller,
    editor: Annotated[Literal["light", "full"] | None, Query()] = None,
    job: Annotated[ShortId | None, Query(description="Work from this job first")] = None,
) -> Response:
    ctx = get_ctx(request)
    # A coordinator's link to one job (?job=) is kept in a cookie until that job has nothing
    # for this worker; then any job's work.
    job_id = job or request.cookies.get(JOB_COOKIE) or None
    try:
        leased = await run_unit_of_work(ctx, _lease_page, caller.worker.id, _settings(ctx), job_id)
        if leased is None and job_id is not None:
            leased = await run_unit_of_work(
                ctx, _lease_page, caller.worker.id, _settings(ctx), None
            )
    except LeaseNotFound:
        if job is not None:
            raise  # an unknown job in the link: 404
        leased, job_id = None, None  # the remembered job is gone
    except KaziError as exc:
        if exc.status != 403:
            raise
        return _no_task(request, caller, exc)
    if leased is None:
        nothing = render(request, "task_none.html", caller, reason="no_work", message=None)
        nothing.delete_cookie(JOB_COOKIE, path="/app")
        return nothing
    chosen = choose_editor(leased.kind, editor, request.cookies.get(EDITOR_COOKIE))
    view = task_page_view(leased, chosen, _media_url(ctx, media_key_for(leased, chosen)))
    response = _editor_page(request, caller, view)
    secure = app_settings_of(request).cookie_secure
    if editor is not None:
        response.set_cookie(
            EDITOR_COOKIE, editor, max_age=EDITOR_COOKIE_SECONDS, path="/app", httponly=True,
            secure=secure, samesite="lax",
        )  # fmt: skip
    if job_id is not None and leased.lease.job_id != job_id:
        response.delete_cookie(JOB_COOKIE, path="/app")
    elif job is not None:
        response.set_cookie(
            JOB_COOKIE, job, max_age=JOB_COOKIE_SECONDS, path="/app", httponly=True,
            secure=secure, samesite="lax",
        )  # fmt: skip
    return response


def _no_task(request: Request, caller: AppCallerInfo, exc: KaziError) -> Response:
    """Paused, or training to finish first (the lease's 403s), as a page that says what to do."""
    reason = "training" if exc.code == "training_required" else "paused"
    message = TRAINING_MESSAGE if reason == "training" else PAUSED_MESSAGE
    return render(
        request, "task_none.html", caller, status_code=exc.status, reason=reason,
        message=message,
    )  # fmt: skip


def _editor_page(request: Request, caller: AppCallerInfo, view: TaskPageView) -> Response:
    heartbeat = app_settings_of(request).heartbeat_seconds
    if view.editor is Editor.LIGHT:
        return render(request, "task_light.html", caller, view=view, heartbeat_seconds=heartbeat)
    return render(
        request, "task_full.html", caller, view=view, heartbeat_seconds=heartbeat,
        setup=full_editor_setup(view), csp_extra=FULL_EDITOR_CSP,
    )  # fmt: skip


# -- submit ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppSubmitted:
    outcome: Outcome
    answer_id: int | None = None
    refusal: Refusal | None = None


def _submit(uow: UnitOfWork, worker_id: str, lease_id: str, body: AppSubmitRequest) -> AppSubmitted:
    # Locked first, as the service locks it: what is read below is current.
    lease = uow.work.lease(lease_id, for_update=True)
    if lease is None or lease.worker_id != worker_id:
        raise LeaseNotFound(f"no lease {lease_id} for this worker")
    facts = uow.work.task_facts(lease.task_id)
    if facts is None:
        raise LeaseNotFound(f"no lease {lease_id} for this worker")
    size = (facts.box_w, facts.box_h) if facts.box_w and facts.box_h else None
    try:
        answer = answer_from_page(facts.job_kind, body, size)
    except LabelingPayloadError as exc:
        raise InvalidAnswer(str(exc)) from exc
    try:
        result = service.submit(
            uow, worker_id, lease_id, answer, client_answer_id=body.client_answer_id,
            time_spent_seconds=body.time_spent_seconds, source=CHANNEL,
        )  # fmt: skip
    except service.SubmitRefused:
        # Nothing was written: the refusal is answered (409) and the transaction commits empty.
        ran_out = not is_live(as_utc(lease.expires_at), datetime.now(UTC))
        return AppSubmitted(Outcome.REFUSED, refusal=refusal_of(lease.outcome, ran_out))
    if result.replayed:
        return AppSubmitted(Outcome.REPLAYED, result.answer_id)
    # In the answer's own transaction, as the worker API does: the last answer sends the job on.
    after_answer(uow, result.job_id)
    return AppSubmitted(Outcome.LATE_FILED if result.late else Outcome.FILED, result.answer_id)


def _form_fields(form: FormData) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if not isinstance(value, str):
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("body", name), "msg": "files are not taken"}]
            )
        fields.setdefault(name, value)
    return fields


def _validated(model: type[Any], values: dict[str, Any]) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


async def _submit_body(request: Request, form: FormData | None, lease_id: str) -> AppSubmitRequest:
    if not is_form(request):
        return await read_json_body(request, AppSubmitRequest)
    fields = _form_fields(form if form is not None else await request.form())
    sent: AppFormSubmit = _validated(AppFormSubmit, fields)
    return AppSubmitRequest(
        client_answer_id=sent.client_answer_id or client_answer_id_for(lease_id),
        answer={"text": sent.text},
        time_spent_seconds=sent.time_spent_seconds,
    )


def _message(request: Request, caller: AppCallerInfo, done: AppSubmitted) -> str:
    if done.refusal is not None:
        return _say(request, caller, REFUSAL_MESSAGES[done.refusal])
    return _say(request, caller, OUTCOME_MESSAGES[done.outcome])


@router.post(
    "/task/{lease_id}/submit",
    summary="Submit the answer for a lease (a form, or JSON with X-CSRF-Token)",
    openapi_extra=json_body_doc(AppSubmitRequest, required=True),
    responses={
        409: {
            "model": ErrorBody,
            "description": "Not recorded (skipped, sent already, or ran out and full); with "
            "`outcome`, `message` and `reason` beside the error body's fields",
        }
    },
)
async def submit_task(request: Request, lease_id: LeaseId, caller: AppCaller) -> Response:
    form = await require_csrf(request, caller)  # the session is known; the body not yet read
    body = await _submit_body(request, form, lease_id)
    done = await run_unit_of_work(get_ctx(request), _submit, caller.worker.id, lease_id, body)
    message = _message(request, caller, done)
    if not is_form(request):
        content: dict[str, Any] = {
            "outcome": done.outcome.value, "message": message, "answer_id": done.answer_id,
        }  # fmt: skip
        if done.outcome is Outcome.REFUSED:
            content |= {"detail": message, "code": "submit_refused", "reason": done.refusal}
            return JSONResponse(content, status_code=409)
        status = 200 if done.outcome is Outcome.REPLAYED else 201
        return JSONResponse(content, status_code=status)
    if done.outcome is Outcome.REFUSED:
        return render(
            request, "task_done.html", caller, status_code=409, outcome=done.outcome.value,
            message=message,
        )  # fmt: skip
    return RedirectResponse(f"/app/task/done?outcome={done.outcome.value}", status_code=303)


@router.get("/task/done", summary="What became of the answer just sent")
async def task_done(
    request: Request, caller: AppCaller, outcome: Annotated[Done, Query()] = "filed"
) -> Response:
    if outcome == "skipped":
        message = _say(request, caller, SKIPPED_MESSAGE)
    else:
        message = _say(request, caller, OUTCOME_MESSAGES[Outcome(outcome)])
    return render(request, "task_done.html", caller, outcome=outcome, message=message)


# -- heartbeat and skip ----------------------------------------------------------------------


def _extend(
    uow: UnitOfWork, worker_id: str, lease_id: str, settings: DistributionSettings
) -> service.Lease:
    return service.extend_lease(uow, worker_id, lease_id, settings)


@router.post(
    "/task/{lease_id}/heartbeat",
    summary="The worker is still at the task: extend the live lease (JSON, X-CSRF-Token)",
    openapi_extra=json_body_doc(HeartbeatRequest, required=False),
    responses={409: {"model": ErrorBody, "description": "The lease has ended; it is not revived"}},
)
async def heartbeat(request: Request, lease_id: LeaseId, caller: AppCaller) -> Response:
    form = await require_csrf(request, caller)
    if form is None and not is_form(request):
        await read_optional_json_body(request, HeartbeatRequest)
    ctx = get_ctx(request)
    try:
        lease = await run_unit_of_work(ctx, _extend, caller.worker.id, lease_id, _settings(ctx))
    except service.LeaseExpired:
        message = _say(request, caller, LEASE_ENDED_MESSAGE)
        return JSONResponse(
            {"outcome": "lease_expired", "message": message, "detail": message,
             "code": "lease_expired"},
            status_code=409,
        )  # fmt: skip
    return JSONResponse({"lease_id": lease.lease_id, "expires_at": lease.expires_at.isoformat()})


def _release(uow: UnitOfWork, worker_id: str, lease_id: str) -> None:
    service.release(uow, worker_id, lease_id)


@router.post("/task/{lease_id}/skip", summary="Give the task back to the pool")
async def skip_task(request: Request, lease_id: LeaseId, caller: AppCaller) -> Response:
    await require_csrf(request, caller)  # reads a form's csrf_token; skip takes nothing else
    await run_unit_of_work(get_ctx(request), _release, caller.worker.id, lease_id)
    if is_form(request):
        return RedirectResponse("/app/task/done?outcome=skipped", status_code=303)
    return JSONResponse({"status": "released"})


# -- the service worker ----------------------------------------------------------------------


@router.get("/sw.js", summary="The app's service worker (offline shell, task and audio)")
async def service_worker() -> Response:
    # Served from /app/ so its scope is the app; never cached, so an update reaches phones.
    return Response(
        SERVICE_WORKER.read_bytes(),
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
