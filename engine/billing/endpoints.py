"""``POST /v1/jobs/quote``: what a job would cost, before it is submitted (caller: a client).

The body is the spec the job would be submitted with and a description of its files (audio by
``duration_ms``, images by ``width``/``height`` or nothing): JSON only, nothing is uploaded and
nothing is created. The body is bounded by the default limit (64 KiB: about a thousand files
described); ``kazi submit --quote`` measures local files and prints the same quote. Intake
reserves the same quote computed from the stored files (durations read from their headers).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from engine.api.deps import ClientId, Ctx
from engine.api.request_body import read_json_body
from engine.billing.service import media_items, price, quote_view
from schemas.billing import QuoteRequest, QuoteView

router = APIRouter(prefix="/v1", tags=["billing"])

_REF = "#/components/schemas/"
# Flat models only this route uses: inlined, since nothing else puts them in the components.
_INLINED = ("MediaDescription", "QuoteAssumptions")


def _body_doc() -> dict[str, Any]:
    schema = QuoteRequest.model_json_schema(ref_template=_REF + "{model}")
    defs = schema.pop("$defs", {})
    properties = schema["properties"]
    properties["media"]["items"] = defs["MediaDescription"]
    assume = dict(defs["QuoteAssumptions"])
    properties["assume"] = {k: v for k, v in properties["assume"].items() if k != "$ref"} | assume
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


@router.post(
    "/jobs/quote",
    response_model=QuoteView,
    openapi_extra=_body_doc(),
    summary="Price a job before submitting it: lines, total and the assumptions made",
)
async def quote_job(request: Request, ctx: Ctx, client_id: ClientId) -> QuoteView:
    """Caller: a client (API key), checked before the body is read."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        raise HTTPException(415, "send application/json: {spec, media: [...]} (see the docs)")
    body = await read_json_body(request, QuoteRequest)
    quote = await run_in_threadpool(
        price, body.spec, media_items(body.media), ctx.settings, body.assume
    )
    return quote_view(quote)
