"""The one error body the API sends, the handlers that produce it, and its OpenAPI documentation.

Every error response, whatever raised it (a use case's ``KaziError``, an ``HTTPException``, a
request that fails validation, a database that is down, a bug), has the body ``ErrorBody``::

    {"detail": "job 3f2a... not found", "code": "job_not_found"}
    {"detail": "invalid request: query.limit: ...", "code": "invalid_request",
     "errors": [{"loc": ["query", "limit"], "msg": "...", "type": "less_than_equal"}]}

``detail`` is always a message for people (clients that read ``detail`` keep working), ``code``
a short string to branch on, and ``errors`` the per-field problems of a 422 when there are any.
A 503 (database unreachable) also sends ``Retry-After``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException

from engine.errors import KaziError

log = logging.getLogger(__name__)

# Seconds a client should wait before retrying a 503.
RETRY_AFTER_S = 5

# Codes of HTTPExceptions raised with a bare status (routes, auth, Starlette's 404/405).
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    503: "unavailable",
}

# PostgreSQL error classes that mean "no usable connection", not "this statement is wrong":
# connection exceptions, admin or crash shutdown, server still starting, too many connections.
_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "57P01", "57P02", "57P03", "53300")


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where the problem is: ['body', 'spec', 'kind']")
    msg: str
    type: str = Field(description="Machine name of the problem (pydantic's error type)")


class ErrorBody(BaseModel):
    """The body of every error response."""

    detail: str = Field(description="What went wrong, for people")
    code: str = Field(description="Short machine code, e.g. job_not_found, invalid_request")
    errors: list[FieldError] = Field(
        default_factory=list, description="Per-field problems; only on 422s, when known"
    )


def error_response(
    status: int,
    code: str,
    detail: str,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(detail=detail, code=code, errors=list(errors or ()))
    content = body.model_dump(exclude=None if body.errors else {"errors"})
    return JSONResponse(status_code=status, content=content, headers=headers)


def field_errors(raw: Sequence[Any]) -> list[FieldError]:
    """Pydantic-style error dicts (``loc``, ``msg``, ``type``); their ``input`` is left out so
    an error never echoes what the client sent (keys, file contents)."""
    found = []
    for err in raw:
        if isinstance(err, Mapping):
            loc = [p if isinstance(p, int) else str(p) for p in err.get("loc", ())]
            found.append(
                FieldError(loc=loc, msg=str(err.get("msg", "")), type=str(err.get("type", "")))
            )
        else:
            found.append(FieldError(loc=[], msg=str(err), type="value_error"))
    return found


def _summary(errors: Sequence[FieldError]) -> str:
    return "invalid request: " + "; ".join(
        f"{'.'.join(map(str, e.loc))}: {e.msg}" if e.loc else e.msg for e in errors
    )


def is_database_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be reached (worth a retry later), not that
    a statement failed."""
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    driver_error: BaseException | None = exc
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        driver_error = exc.orig
    if isinstance(driver_error, psycopg.OperationalError):
        # No SQLSTATE: the client library itself could not connect or lost the connection.
        sqlstate = driver_error.sqlstate
        return sqlstate is None or sqlstate.startswith(_UNAVAILABLE_SQLSTATE_PREFIXES)
    return False


async def kazi_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, KaziError)
    return error_response(exc.status, exc.code, exc.message)


async def http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in {204, 304}:  # statuses that must not carry a body
        return Response(status_code=exc.status_code, headers=exc.headers)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    if isinstance(exc.detail, list):  # a route's own validation (see engine/jobs/endpoints.py)
        errors = field_errors(exc.detail)
        return error_response(exc.status_code, code, _summary(errors), errors, exc.headers)
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


async def validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc.errors())
    return error_response(422, "invalid_request", _summary(errors), errors)


# PostgreSQL ended the transaction to break a deadlock or a serialization conflict: nothing was
# written, and the same request again (idempotent by its ids) succeeds.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def _sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", exc)
    return getattr(orig, "sqlstate", None)


async def database_error(request: Request, exc: Exception) -> Response:
    if _sqlstate(exc) in RETRYABLE_SQLSTATES:
        log.warning("transaction conflict on %s %s: %s", request.method, request.url.path, exc)
        return error_response(
            503,
            "transaction_conflict",
            "the request met a concurrent change and was rolled back; send it again",
            headers={"Retry-After": "1"},
        )
    if not is_database_unavailable(exc):
        raise exc  # a failed statement is a bug: the 500 handler answers and logs it
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return error_response(
        503,
        "database_unavailable",
        "the database is unavailable; retry later",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def internal_error(request: Request, exc: Exception) -> Response:
    # Starlette re-raises after this response is sent, so the server logs the traceback too;
    # this line ties it to the request.
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return error_response(500, "internal_error", "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(KaziError, kazi_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    for db_error in (sa_exc.DBAPIError, sa_exc.TimeoutError, psycopg.OperationalError):
        app.add_exception_handler(db_error, database_error)
    app.add_exception_handler(Exception, internal_error)


# -- OpenAPI ------------------------------------------------------------------------------

_REF = "#/components/schemas/"
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _error_content(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF + "ErrorBody"}}},
    }


def _use_error_body(document: dict[str, Any]) -> None:
    """Point every documented error at ``ErrorBody``: FastAPI documents its 422 with its own
    list-shaped ``HTTPValidationError``, which is not what this API sends."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    body_schema = ErrorBody.model_json_schema(ref_template=_REF + "{model}")
    schemas.update(body_schema.pop("$defs", {}))
    schemas["ErrorBody"] = body_schema
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = _error_content("Invalid request; `errors` lists the fields")
            responses.setdefault("4XX", _error_content("Request refused"))
            responses.setdefault(
                "5XX", _error_content("Server error; a 503 comes with Retry-After")
            )
    for name in _FASTAPI_VALIDATION_SCHEMAS:  # in this order: the first refers to the second
        if f'"{_REF}{name}"' not in json.dumps(document):
            schemas.pop(name, None)


def document_errors(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _use_error_body(generate())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
