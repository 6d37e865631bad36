"""Who is calling the app: the session cookie, checked before any body is read.

``AppCaller`` is the dependency every session route takes. It reads only the ``kazi_app``
cookie, so a request without a live session is refused (a page: 303 to the login; JSON: 401)
whatever its body holds. POST routes then call ``require_csrf``, which is the first thing that
reads the body (a form's ``csrf_token`` field) unless the ``X-CSRF-Token`` header carries it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from engine.bootstrap import EngineContext
from engine.errors import KaziError
from engine.unit_of_work import UnitOfWork
from engine.worker_app import labels
from engine.worker_app.app_settings import AppSettings, get_app_settings
from engine.worker_app.sessions import AppSession, session_for_token

SESSION_COOKIE = "kazi_app"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class AppLoginRequired(KaziError):
    """No live session: pages answer with a redirect to the login, JSON routes with this 401."""

    status = 401
    code = "app_login_required"


class CsrfFailed(KaziError):
    status = 403
    code = "csrf_failed"


@dataclass(frozen=True)
class WorkerView:
    id: str
    handle: str
    tier: str
    status: str


@dataclass(frozen=True)
class AppCallerInfo:
    session: AppSession
    worker: WorkerView
    token: str  # the cookie's session token (logout ends it)


def is_form(request: Request) -> bool:
    """Whether the body is a browser form (urlencoded or multipart)."""
    return request.headers.get("content-type", "").startswith(FORM_TYPES)


def app_settings_of(request: Request) -> AppSettings:
    """The app's settings: the app's own copy when a test or the CLI set one, else the env's."""
    settings = getattr(request.app.state, "app_settings", None)
    return settings if isinstance(settings, AppSettings) else get_app_settings()


def _caller(
    uow: UnitOfWork, token: str, now: datetime, settings: AppSettings
) -> AppCallerInfo | None:
    session = session_for_token(uow, token, now, settings)
    if session is None:
        return None
    row = uow.workers.get(session.worker_id)
    if row is None:
        return None
    worker = WorkerView(row.id, row.handle, row.tier, row.status)
    return AppCallerInfo(session, worker, token)


def optional_app_caller(request: Request) -> AppCallerInfo | None:
    """The session's caller, or None (pages that also serve visitors: the login page)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return None
    ctx: EngineContext = request.app.state.ctx
    now = datetime.now(UTC)
    found: AppCallerInfo | None = ctx.in_unit_of_work(_caller, token, now, app_settings_of(request))
    return found


def app_caller(request: Request) -> AppCallerInfo:
    """The logged-in worker (a sync dependency: FastAPI runs it in the thread pool)."""
    caller = optional_app_caller(request)
    if caller is None:
        raise AppLoginRequired(labels.LOGIN_REQUIRED)
    return caller


async def require_csrf(request: Request, caller: AppCallerInfo) -> FormData | None:
    """Refuse a POST whose CSRF token is not the session's (403 ``csrf_failed``); the form,
    when the body is one (read only now, after the caller is known), so the route does not
    read it again. The token comes in the ``X-CSRF-Token`` header (JSON calls) or the form's
    ``csrf_token`` field."""
    expected = caller.session.csrf_token.encode()
    form: FormData | None = None
    if is_form(request):
        form = await request.form()
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and form is not None:
        field = form.get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if sent is None or not hmac.compare_digest(sent.encode(), expected):
        raise CsrfFailed(labels.CSRF_FAILED)
    return form


AppCaller = Annotated[AppCallerInfo, Depends(app_caller)]
OptionalAppCaller = Annotated[AppCallerInfo | None, Depends(optional_app_caller)]
