"""The worker app's own pages (/app): login by one-time code, logout, language, home, feedback,
earnings and statements. Task pages are engine/worker_app/task_pages.py, training pages
engine/training/endpoints.py.

Every session route takes ``AppCaller`` (the cookie, checked before any body is read); every
POST then passes ``require_csrf``. Login is the one POST without a session: it is
rate-limited per client address instead (engine/worker_app/sessions.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from engine.api.deps import get_ctx, run_unit_of_work
from engine.bootstrap import EngineContext
from engine.errors import KaziError
from engine.quality.settings import QualitySettings
from engine.statements.service import issue_statement
from engine.unit_of_work import UnitOfWork
from engine.worker_app import i18n, labels, login_code
from engine.worker_app.app_settings import AppSettings
from engine.worker_app.auth import (
    SESSION_COOKIE,
    AppCaller,
    CsrfFailed,
    OptionalAppCaller,
    app_settings_of,
    is_form,
    require_csrf,
)
from engine.worker_app.sessions import (
    AppSession,
    LoginCodeMalformed,
    LoginCodeRefused,
    TooManyLoginAttempts,
    UnknownLocale,
    check_login_allowed,
    end_session,
    record_login_failure,
    redeem_login_code,
    set_locale,
)
from engine.worker_app.templating import render
from engine.worker_app.views import earnings_view, home_view, statement_months

router = APIRouter(prefix="/app", tags=["worker app"])

LANG_COOKIE_SECONDS = 365 * 24 * 3600
# A form's answer: 303 to the next page (a browser follows it with a GET).
REDIRECTS: dict[str, Any] = {
    "status_code": 303,
    "response_class": RedirectResponse,
    "responses": {303: {"description": "Done: go to the `Location` page"}},
}
Month = Annotated[str, Path(min_length=7, max_length=7, description="YYYY-MM")]


class UnsupportedForm(KaziError):
    status = 415
    code = "unsupported_media_type"


def _now() -> datetime:
    return datetime.now(UTC)


def safe_next(target: str | None) -> str:
    """Where to go after a form: a path inside the app only (never another site)."""
    if (
        not target
        or len(target) > 500
        or not target.startswith("/app")
        or target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 32 for ch in target)
    ):
        return "/app"
    rest = target[4:]
    return target if rest == "" or rest[0] in "/?" else "/app"


def same_site_form(request: Request, public_url: str) -> bool:
    """False for a form another site made the browser post (login CSRF: a victim logged in to
    the attacker's account would work for them). The login has no session to hold a CSRF token
    yet, so it checks what browsers add to every POST: ``Sec-Fetch-Site`` and ``Origin``.
    Clients that are not browsers send neither and are no CSRF vector."""
    if request.headers.get("sec-fetch-site", "same-origin") not in {"same-origin", "none"}:
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    allowed = {request.headers.get("host", ""), urlsplit(public_url).netloc}
    return urlsplit(origin).netloc in allowed - {""}


def _field(form: FormData | None, name: str) -> str:
    value = form.get(name) if form is not None else None
    return value if isinstance(value, str) else ""


def _client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _set_cookie(
    response: Response, name: str, value: str, max_age: int, settings: AppSettings
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/app",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )


def _language_cookie(response: Response, locale: str, settings: AppSettings) -> None:
    _set_cookie(response, i18n.LANG_COOKIE, locale, LANG_COOKIE_SECONDS, settings)


# -- login ----------------------------------------------------------------------------------


@router.get(
    "/login", response_class=HTMLResponse, summary="The login page: type the code staff gave you"
)
def login_page(
    request: Request,
    caller: OptionalAppCaller,
    code: Annotated[str, Query(max_length=40)] = "",
    next: Annotated[str, Query(max_length=500)] = "/app",
    lang: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    if lang is not None and lang not in i18n.LOCALES:
        raise UnknownLocale(labels.UNKNOWN_LANGUAGE)
    if caller is not None and lang is None:
        return RedirectResponse(safe_next(next), status_code=303)
    response = render(
        request, "login.html", None, locale=lang, code=code, next=safe_next(next), error=""
    )
    if lang is not None:
        _language_cookie(response, lang, app_settings_of(request))
    return response


@router.get(
    "/login/{code}",
    response_class=HTMLResponse,
    summary="A printed login link (QR): a button that logs in",
)
def login_link_page(request: Request, code: Annotated[str, Path(max_length=40)]) -> Response:
    # No state changes on GET (link previews, prefetching): the button POSTs the code.
    normal = login_code.normalize(code)
    if normal is None:
        raise LoginCodeMalformed(labels.CODE_MALFORMED)
    # The code is in this page's address: Referrer-Policy same-origin (every page's) keeps it
    # from other sites, and the form's POST still carries a real Origin (no-referrer would
    # make it "null", which the login refuses as cross-site).
    return render(
        request, "login_link.html", None, code=normal, shown_code=login_code.grouped(normal)
    )


def _redeem(
    uow: UnitOfWork, code: str, source: str, now: datetime, settings: AppSettings, locale: str
) -> tuple[str, AppSession]:
    check_login_allowed(uow, source, now, settings)
    return redeem_login_code(uow, code, now, settings, locale)


@router.post(
    "/login",
    summary="Log in with a one-time code (form: code, next); sets the session cookie",
    **REDIRECTS,
)
async def login(request: Request) -> Response:
    ctx: EngineContext = get_ctx(request)
    settings = app_settings_of(request)
    if not same_site_form(request, ctx.settings.public_url):
        raise CsrfFailed(labels.CSRF_FAILED)
    if not is_form(request):
        raise UnsupportedForm(labels.SEND_THE_FORM)
    form = await request.form()
    code, target = _field(form, "code"), safe_next(_field(form, "next"))
    locale = i18n.pick_locale(
        None, request.cookies.get(i18n.LANG_COOKIE), request.headers.get("accept-language")
    )
    source, now = _client_address(request), _now()
    try:
        token, session = await run_unit_of_work(ctx, _redeem, code, source, now, settings, locale)
    except (LoginCodeMalformed, LoginCodeRefused, TooManyLoginAttempts) as refused:
        if isinstance(refused, LoginCodeRefused):  # counted in its own unit of work
            await run_unit_of_work(ctx, record_login_failure, source, now, settings)
        error = i18n.translations(locale).gettext(refused.message)
        return render(
            request, "login.html", None, status_code=refused.status, locale=locale,
            code=code[:40], next=target, error=error,
        )  # fmt: skip
    response = RedirectResponse(target, status_code=303)
    max_age = int((session.expires_at - now).total_seconds())
    _set_cookie(response, SESSION_COOKIE, token, max_age, settings)
    return response


@router.post("/logout", summary="End this session", **REDIRECTS)
async def logout(request: Request, caller: AppCaller) -> Response:
    await require_csrf(request, caller)
    await run_unit_of_work(get_ctx(request), end_session, caller.token)
    response = RedirectResponse("/app/login", status_code=303)
    settings = app_settings_of(request)
    response.delete_cookie(
        SESSION_COOKIE, path="/app", secure=settings.cookie_secure, httponly=True, samesite="lax"
    )
    return response


@router.post("/language", summary="Choose the interface language (form: locale, next)", **REDIRECTS)
async def choose_language(request: Request, caller: AppCaller) -> Response:
    form = await require_csrf(request, caller)
    locale = _field(form, "locale")
    if locale not in i18n.LOCALES:
        raise UnknownLocale(labels.UNKNOWN_LANGUAGE)
    await run_unit_of_work(get_ctx(request), set_locale, caller.session.session_id, locale)
    response = RedirectResponse(safe_next(_field(form, "next")), status_code=303)
    _language_cookie(response, locale, app_settings_of(request))
    return response


# -- pages ----------------------------------------------------------------------------------


@router.get(
    "",
    response_class=HTMLResponse,
    summary="Home: your tier, what the next needs, recent scores, training",
)
def home(request: Request, caller: AppCaller) -> Response:
    ctx = get_ctx(request)
    policy = QualitySettings.from_settings(ctx.settings).policy
    view = ctx.in_unit_of_work(home_view, caller.worker.id, policy)
    return render(request, "home.html", caller, home=view)


@router.get(
    "/feedback",
    response_class=HTMLResponse,
    summary="Your scored answers with the reviewers' corrections",
)
def feedback(
    request: Request, caller: AppCaller, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> Response:
    from engine.quality.feedback import feedback_for_worker

    items = get_ctx(request).in_unit_of_work(feedback_for_worker, caller.worker.id, limit)
    return render(request, "feedback.html", caller, items=items)


@router.get(
    "/earnings",
    response_class=HTMLResponse,
    summary="Your balances, what each answer earned, your payouts",
)
def earnings(
    request: Request, caller: AppCaller, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> Response:
    view = get_ctx(request).in_unit_of_work(earnings_view, caller.worker.id, limit)
    return render(request, "earnings.html", caller, page=view)


@router.get("/statements", response_class=HTMLResponse, summary="Your monthly income statements")
def statements(request: Request, caller: AppCaller) -> Response:
    months = get_ctx(request).in_unit_of_work(statement_months, caller.worker.id, _now())
    return render(request, "statements.html", caller, months=months)


@router.get(
    "/statements/{month}",
    summary="Your signed statement for a month (YYYY-MM); ?format=json downloads it",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}, "application/json": {}}}},
)
def statement(
    request: Request,
    caller: AppCaller,
    month: Month,
    format: Annotated[Literal["html", "json"], Query()] = "html",
) -> Response:
    ctx = get_ctx(request)
    document = ctx.in_unit_of_work(issue_statement, caller.worker.id, month, ctx.settings)
    if format == "json":
        return JSONResponse(
            document,
            headers={
                "Content-Disposition": f'attachment; filename="kazi-statement-{quote(month)}.json"',
                "Cache-Control": "private, no-store",
            },
        )
    return render(request, "statement.html", caller, month=month, statement=document)
