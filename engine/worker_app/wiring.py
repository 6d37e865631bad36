"""What the worker app adds to the API app besides its routers: static files at /app/static,
gzip for /app responses, and error pages for /app (engine/worker_app/error_pages.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from engine.api.access import ROUTE_CALLERS, Caller, Operation
from engine.worker_app.error_pages import install_app_error_pages

STATIC_DIR = Path(__file__).parent / "static"
GZIP_MINIMUM_BYTES = 500


class GzipAppOnly:
    """Gzip /app pages and static files; every other route (the worker API's hot routes,
    media with byte ranges) passes through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self._plain = app
        self._gzip = GZipMiddleware(app, minimum_size=GZIP_MINIMUM_BYTES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == "/app" or path.startswith("/app/"):
            await self._gzip(scope, receive, send)
        else:
            await self._plain(scope, receive, send)


_HTML = {"text/html": {"schema": {"type": "string"}}}
_TO_LOGIN = {"description": "No live session: a browser is sent to `/app/login?next=...`"}


def _document_pages(document: dict[str, Any]) -> None:
    """The app's answers beyond the API's: a browser gets its errors as pages, and a page asked
    for without a session is a redirect to the login (JSON callers: the usual error body)."""
    for path, item in document.get("paths", {}).items():
        if not (path == "/app" or path.startswith("/app/")):
            continue
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, response in responses.items():
                if status.startswith("4") and "content" in response:
                    response["content"] = {**response["content"], **_HTML}
            caller = ROUTE_CALLERS.get(Operation(method.upper(), path))
            if caller is Caller.WORKER_SESSION:
                responses.setdefault("303", _TO_LOGIN)


def install_worker_app(app: FastAPI) -> None:
    """Call after the error handlers are installed (the app's pages wrap them) and before
    ``declare_access`` (which wraps the OpenAPI document this amends)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        _document_pages(document)  # idempotent: the document is built once and cached
        return document

    app.openapi = openapi  # type: ignore[method-assign]
    install_app_error_pages(app)
    app.mount("/app/static", StaticFiles(directory=STATIC_DIR), name="app-static")
    app.add_middleware(GzipAppOnly)
