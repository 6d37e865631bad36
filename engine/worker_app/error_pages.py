"""Errors on the app's pages answer with a page, not JSON.

The API's handlers (engine/api/errors.py) stay the one error body for JSON callers; for a
browser on an /app page this wraps them: no session -> 303 to the login (with ``next``), any
other 4xx -> the same status with a short page in the worker's language. JSON callers of the
app (Accept: application/json, a JSON body, /app/api/) keep the JSON body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from engine.errors import KaziError
from engine.worker_app import i18n, labels
from engine.worker_app.auth import AppLoginRequired

Handler = Callable[[Request, Exception], Awaitable[Response]]


def wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/app/api/") or path.startswith("/app/static/"):
        return True
    if request.headers.get("content-type", "").startswith("application/json"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def is_app_page(request: Request) -> bool:
    path = request.url.path
    return (path == "/app" or path.startswith("/app/")) and not wants_json(request)


def _login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":  # after logging in, go back to a page, not a form's POST
        target = "/app"
    return RedirectResponse(f"/app/login?next={quote(target, safe='/')}", status_code=303)


def _status_and_message(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, KaziError):
        return exc.status, exc.message
    if isinstance(exc, HTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "the request is not valid"
        return exc.status_code, detail
    return 422, labels.BAD_REQUEST


async def error_page(request: Request, status: int, message: str) -> Response:
    from engine.worker_app.auth import optional_app_caller
    from engine.worker_app.templating import render

    try:
        caller = await run_in_threadpool(optional_app_caller, request)
    except Exception:  # the database is down: still answer the error page
        caller = None
    _ = i18n.translations(
        i18n.pick_locale(
            caller.session.locale if caller else None,
            request.cookies.get(i18n.LANG_COOKIE),
            request.headers.get("accept-language"),
        )
    ).gettext
    message = _(message)  # the app's own messages are in the catalogs
    title = _("Something is not right")
    if status == 404:
        title = _("Not found")
    elif status == 429:
        title = _("Too many tries")
    back = "/app" if caller is not None else "/app/login"
    return render(
        request,
        "error.html",
        caller,
        status_code=status,
        title=title,
        message=message,
        back=back,
        back_text=_("Back"),
    )


def _wrap(original: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        if not is_app_page(request):  # JSON callers keep the one error body
            return await original(request, exc)
        if isinstance(exc, AppLoginRequired):
            return _login_redirect(request)
        status, message = _status_and_message(exc)
        if status >= 500 or status in {204, 304}:
            return await original(request, exc)
        return await error_page(request, status, message)

    return handle


def install_app_error_pages(app: FastAPI) -> None:
    """Call after engine.api.errors.install_error_handlers."""
    for exc_class in (KaziError, HTTPException, RequestValidationError):
        original = app.exception_handlers.get(exc_class)
        if original is not None:
            app.add_exception_handler(exc_class, _wrap(original))  # type: ignore[arg-type]
