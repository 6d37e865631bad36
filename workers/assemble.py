"""The ``assemble`` queue: deliverables, then the client's callback."""

from __future__ import annotations

import json

import httpx
from sqlalchemy.exc import OperationalError

from engine.assembly.service import assemble_job, callback_payload, callback_secret, sign_callback
from engine.bootstrap import get_context
from engine.domain.job_stage import JobStage
from engine.storage.object_store import TransientStorageError
from workers.celery_app import TRANSIENT_RETRY, app


@app.task(
    name="kazi.assemble.assemble_job",
    autoretry_for=(TransientStorageError, OperationalError),
    **TRANSIENT_RETRY,
)
def assemble_job_task(job_id: str) -> str | None:
    ctx = get_context()
    stage = assemble_job(ctx.sessions, ctx.store, job_id)
    if stage is JobStage.DELIVERED:
        notify_client_task.delay(job_id)
    return stage.value if stage else None


@app.task(
    name="kazi.assemble.notify_client",
    autoretry_for=(httpx.HTTPError,),
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=10,
)
def notify_client_task(job_id: str) -> int | None:
    """POST the signed delivery notice; retried with backoff while the client's server fails."""
    ctx = get_context()
    with ctx.sessions() as session:
        found = callback_payload(session, job_id)
    if found is None:
        return None
    url, body, client_id = found
    raw = json.dumps(body).encode()
    signature = sign_callback(raw, callback_secret(ctx.settings.signing_secret, client_id))
    resp = httpx.post(
        url, content=raw, timeout=15,
        headers={"Content-Type": "application/json", "X-Kazi-Signature": signature},
    )  # fmt: skip
    if resp.status_code >= 500 or resp.status_code == 429:
        raise httpx.HTTPStatusError("client callback failed", request=resp.request, response=resp)
    return resp.status_code
