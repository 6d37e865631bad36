"""Label Studio webhooks: annotation created / updated, checked by a shared secret."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, HTTPException

from engine.api.deps import Ctx
from engine.label_studio_sync.service import ingest_in_own_transaction
from engine.quality.triggers import review_done
from engine.work.endpoints import distribution_settings, score_when_complete
from workers.dispatch import enqueue_finish_review

router = APIRouter(prefix="/v1/hooks", tags=["label studio"])

HANDLED = {"ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_CREATED"}


@router.post("/label-studio", summary="Label Studio webhook (annotation created or updated)")
def label_studio_webhook(
    ctx: Ctx,
    payload: Annotated[dict[str, Any], Body()],
    x_kazi_webhook_secret: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    secret = ctx.settings.webhook_secret
    if not x_kazi_webhook_secret or not hmac.compare_digest(x_kazi_webhook_secret, secret):
        raise HTTPException(401, "missing or wrong X-Kazi-Webhook-Secret header")
    action = payload.get("action")
    if action not in HANDLED:
        return {"status": "ignored", "action": action}
    annotations = payload.get("annotations") or [payload.get("annotation")]
    project = payload.get("project") or {}
    project_id = project.get("id") if isinstance(project, dict) else project
    results = []
    for annotation in annotations:
        if not isinstance(annotation, dict) or "id" not in annotation:
            raise HTTPException(422, "webhook payload has no annotation with an id")
        task = annotation.get("task")
        task_id = task.get("id") if isinstance(task, dict) else task
        if task_id is None:
            task_id = (payload.get("task") or {}).get("id")
        if not isinstance(task_id, int) or not isinstance(project_id, int):
            raise HTTPException(422, "webhook payload lacks the task or project id")
        outcome = ingest_in_own_transaction(
            ctx.sessions, project_id, task_id, annotation, distribution_settings(ctx)
        )
        results.append({"annotation": annotation["id"], "status": outcome.status,
                        "reason": outcome.reason})  # fmt: skip
        if outcome.status == "accepted" and outcome.job_id:
            with ctx.sessions() as session:
                score_when_complete(session, outcome.job_id)
        if outcome.status == "reviewed" and outcome.job_id:
            with ctx.sessions() as session:
                if review_done(session, outcome.job_id):
                    enqueue_finish_review(outcome.job_id)
    return {"status": "ok", "results": results}
