"""Label Studio webhooks: annotation created / updated, checked by a shared secret.

The secret is checked before the body is read: an unauthenticated caller gets a 401 without
the engine parsing (or buffering more than the cap of) what it sent. A body the engine cannot
use (not a JSON object, ids of the wrong type or out of range, a NUL in a string) is a 400 that
says what is wrong; nothing of it reaches the database.
"""

from __future__ import annotations

import hmac
import json
from typing import Annotated, Any, NoReturn, TypeGuard

from fastapi import APIRouter, Header, HTTPException, Request

from engine.api.body_limit import WEBHOOK_BODY_LIMIT
from engine.api.deps import get_ctx, run_unit_of_work
from engine.label_studio_sync.service import WebhookAnnotation, ingest_annotations
from engine.publishing.ls_server import label_studio_server
from engine.settings import Settings
from engine.work.service import DistributionSettings
from schemas.safe_text import refuse_nul_in_json

router = APIRouter(prefix="/v1/hooks", tags=["label studio"])

HANDLED = {"ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_CREATED"}
# Label Studio's ids, as the engine stores them (32-bit integer columns).
MAX_LS_ID = 2**31 - 1


@router.post(
    "/label-studio",
    summary="Label Studio webhook (annotation created or updated)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def label_studio_webhook(
    request: Request,
    x_kazi_webhook_secret: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    ctx = get_ctx(request)
    if not _secret_matches(x_kazi_webhook_secret, ctx.settings.webhook_secret):
        raise HTTPException(401, "missing or wrong X-Kazi-Webhook-Secret header")
    payload = await _json_object(request, WEBHOOK_BODY_LIMIT)
    action = payload.get("action")
    if not isinstance(action, str):
        _malformed("'action' must be a string")
    if action not in HANDLED:
        return {"status": "ignored", "action": action}
    annotations = webhook_annotations(payload)
    # A webhook comes from the configured Label Studio: its ids are that server's.
    server = label_studio_server(ctx.settings.label_studio_url)
    outcomes = await run_unit_of_work(
        ctx, ingest_annotations, server, annotations, _distribution(ctx.settings)
    )
    results = [
        {"annotation": a.annotation["id"], "status": o.status, "reason": o.reason}
        for a, o in zip(annotations, outcomes, strict=True)
    ]
    return {"status": "ok", "results": results}


def _secret_matches(sent: str | None, secret: str) -> bool:
    return bool(sent) and hmac.compare_digest((sent or "").encode(), secret.encode())


def _malformed(reason: str) -> NoReturn:
    raise HTTPException(400, f"malformed webhook: {reason}")


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


async def _json_object(request: Request, limit: int) -> dict[str, Any]:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"webhook body is larger than {limit} bytes")
    try:
        payload = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, NaN, nested too deeply
        _malformed("the body is not JSON")
    if not isinstance(payload, dict):
        _malformed("the body is not a JSON object")
    try:
        refuse_nul_in_json(payload)
    except ValueError:
        _malformed("a string holds a NUL character or a lone surrogate")
    return payload


def webhook_annotations(payload: dict[str, Any]) -> list[WebhookAnnotation]:
    """The annotations of an annotation webhook, with their task and project ids (a 400 that
    names the problem when the payload does not have them, or has them in the wrong shape)."""
    if "annotations" in payload and payload["annotations"] is not None:
        annotations = payload["annotations"]
        if not isinstance(annotations, list):
            _malformed("'annotations' must be a list of annotation objects")
    else:
        annotations = []
    if not annotations:
        annotations = [payload.get("annotation")]
    project_id = _id_of(payload.get("project"), "project")
    found = []
    for annotation in annotations:
        if not isinstance(annotation, dict) or "id" not in annotation:
            _malformed("no annotation object with an 'id'")
        if not _is_id(annotation["id"]):
            _malformed(f"annotation id must be an integer from 1 to {MAX_LS_ID}")
        task_id = _id_of(annotation.get("task"), "annotation task")
        if task_id is None:
            task_id = _id_of(payload.get("task"), "task")
        if task_id is None or project_id is None:
            _malformed("the task or project id is missing")
        if "completed_by" in annotation:
            _id_of(annotation["completed_by"], "completed_by")
        found.append(WebhookAnnotation(project_id, task_id, annotation))
    return found


def _id_of(value: Any, name: str) -> int | None:
    """The id in ``value``, Label Studio's ``5`` or ``{"id": 5, ...}``; None when absent."""
    if isinstance(value, dict):
        value = value.get("id")
    if value is None:
        return None
    if not _is_id(value):
        _malformed(f"{name} must be an integer id from 1 to {MAX_LS_ID} or an object with one")
    return value


def _is_id(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_LS_ID


def _distribution(settings: Settings) -> DistributionSettings:
    return DistributionSettings.from_settings(settings)
