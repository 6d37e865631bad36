"""Label Studio webhooks: annotation created / updated, checked by a shared secret.

The secret is checked before the body is read: an unauthenticated caller gets a 401 without
the engine parsing (or buffering more than the cap of) what it sent.
"""

from __future__ import annotations

import hmac
import json
from typing import Annotated, Any, TypeGuard

from fastapi import APIRouter, Header, HTTPException, Request

from engine.api.deps import get_ctx, run_unit_of_work
from engine.label_studio_sync.service import WebhookAnnotation, ingest_annotations
from engine.settings import Settings
from engine.work.service import DistributionSettings

router = APIRouter(prefix="/v1/hooks", tags=["label studio"])

HANDLED = {"ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_CREATED"}
# A webhook carries a few annotations; a bulk one a few hundred at most.
WEBHOOK_BODY_LIMIT = 4 * 1024 * 1024


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
    if action not in HANDLED:
        return {"status": "ignored", "action": action}
    annotations = webhook_annotations(payload)
    outcomes = await run_unit_of_work(
        ctx, ingest_annotations, annotations, _distribution(ctx.settings)
    )
    results = [
        {"annotation": a.annotation["id"], "status": o.status, "reason": o.reason}
        for a, o in zip(annotations, outcomes, strict=True)
    ]
    return {"status": "ok", "results": results}


def _secret_matches(sent: str | None, secret: str) -> bool:
    return bool(sent) and hmac.compare_digest((sent or "").encode(), secret.encode())


async def _json_object(request: Request, limit: int) -> dict[str, Any]:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"webhook body is larger than {limit} bytes")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise HTTPException(422, "webhook body is not JSON") from exc
    if not isinstance(payload, dict):
        raise HTTPException(422, "webhook body is not a JSON object")
    return payload


def webhook_annotations(payload: dict[str, Any]) -> list[WebhookAnnotation]:
    """The annotations of an annotation webhook, with their task and project ids (422 when
    one lacks them)."""
    annotations = payload.get("annotations") or [payload.get("annotation")]
    project = payload.get("project") or {}
    project_id = project.get("id") if isinstance(project, dict) else project
    found = []
    for annotation in annotations if isinstance(annotations, list) else [annotations]:
        if not isinstance(annotation, dict) or "id" not in annotation:
            raise HTTPException(422, "webhook payload has no annotation with an id")
        task = annotation.get("task")
        task_id = task.get("id") if isinstance(task, dict) else task
        if task_id is None:
            outer = payload.get("task")
            task_id = outer.get("id") if isinstance(outer, dict) else None
        if not _is_id(task_id) or not _is_id(project_id) or not _is_id(annotation["id"]):
            raise HTTPException(422, "webhook payload lacks the task, project or annotation id")
        found.append(WebhookAnnotation(project_id, task_id, annotation))
    return found


def _is_id(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _distribution(settings: Settings) -> DistributionSettings:
    return DistributionSettings.from_settings(settings)
