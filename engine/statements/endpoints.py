"""Income statement routes: a worker's own signed statement, and the public check of one.

``GET /v1/work/statements/{month}`` (caller: a worker): the worker's statement for a month
(``YYYY-MM``), signed with the engine's Ed25519 key; ``?format=html`` for people, JSON (the
default) to verify. ``POST /v1/statements/verify`` (caller: anyone, e.g. a lender or a landlord):
the statement JSON as the body (at most the default body limit, 64 KiB); answers whether this
engine signed it and nobody changed it since.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from engine.api.deps import Ctx, UoW
from engine.statements.service import issue_statement, verify_statement
from engine.statements.statement_html import render_statement_html
from engine.work.endpoints import Worker
from schemas.billing import VerifyAnswer

router = APIRouter(prefix="/v1", tags=["statements"])

_VERIFY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "A statement exactly as GET /v1/work/statements/{month} "
                    "returned it, signature included",
                }
            }
        },
    }
}


@router.get(
    "/work/statements/{month}",
    summary="The calling worker's signed income statement for a month (YYYY-MM)",
    responses={
        200: {
            "description": "The statement (JSON, signed) or its HTML view",
            "content": {"application/json": {}, "text/html": {}},
        }
    },
)
def get_statement(
    month: str,
    ctx: Ctx,
    uow: UoW,
    worker: Worker,
    format: Annotated[Literal["json", "html"], Query()] = "json",
) -> Response:
    document = issue_statement(uow, worker.id, month, ctx.settings)
    if format == "html":
        return HTMLResponse(render_statement_html(document))
    return JSONResponse(document)


@router.post(
    "/statements/verify",
    response_model=VerifyAnswer,
    openapi_extra=_VERIFY_DOC,
    summary="Check that a statement was signed by this engine and is unaltered",
)
async def verify(request: Request, ctx: Ctx) -> VerifyAnswer:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        raise HTTPException(415, "send the statement as application/json")
    raw = await request.body()
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(422, f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise HTTPException(422, "the body is not valid JSON: nested too deeply") from None
    verdict = await run_in_threadpool(verify_statement, document, ctx.settings)
    return VerifyAnswer(valid=verdict.valid, reason=verdict.reason, key_id=verdict.key_id)
