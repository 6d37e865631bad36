"""The signed delivery notice POSTed to a client's ``callback_url`` once its job is delivered."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime
from typing import Any

import httpx

from engine.domain.job_stage import JobStage
from engine.net.outbound import OutboundUrlRefused
from engine.net.outbound_client import OutboundClient
from engine.unit_of_work import UnitOfWork
from schemas.jobs import JobSpec

logger = logging.getLogger(__name__)
# The job history's note when a callback was refused at send time (the job stays delivered).
CALLBACK_REFUSED = "callback not sent: "


def callback_secret(signing_secret: str, client_id: str) -> str:
    """Each client's key for checking delivery callbacks (``X-Kazi-Signature``).

    Derived from the current signing secret only: rotating ``KAZI_SIGNING_SECRET`` changes every
    client's callback secret at once (clients read the new one from ``GET /v1/callback-secret``).
    """
    return hmac.new(
        signing_secret.encode(), f"callback\n{client_id}".encode(), "sha256"
    ).hexdigest()


def sign_callback(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def callback_payload(uow: UnitOfWork, job_id: str) -> tuple[str, dict[str, Any], str] | None:
    """(url, body, client id) for a delivered job with a callback URL, else None."""
    job = uow.jobs.get(job_id)
    if job is None or job.stage != JobStage.DELIVERED.value:
        return None
    url = JobSpec.model_validate(job.spec).callback_url
    if url is None:
        return None
    names = [d.name for d in uow.assembly.deliverables(job_id)]
    body = {"event": "job.delivered", "job_id": job_id,
            "delivered_at": datetime.now(UTC).isoformat(), "deliverables": names}  # fmt: skip
    return str(url), body, job.client_id


def notify_client(
    uow: UnitOfWork, signing_secret: str, job_id: str, outbound: OutboundClient
) -> int | None:
    """POST the notice (read in a unit of work, sent after it closed); returns the client's
    status code, or None when nothing was delivered. Raises ``httpx.HTTPError`` on a failure
    worth retrying (5xx, 429, network). A URL the guard refuses now (its name may resolve to
    an inside address since intake) or a redirect is never retried: it is logged and recorded
    in the job's history."""
    with uow:
        found = callback_payload(uow, job_id)
    if found is None:
        return None
    url, body, client_id = found
    raw = json.dumps(body).encode()
    signature = sign_callback(raw, callback_secret(signing_secret, client_id))
    try:
        resp = outbound.post(
            url, content=raw, timeout=15,
            headers={"Content-Type": "application/json", "X-Kazi-Signature": signature},
        )  # fmt: skip
    except OutboundUrlRefused as exc:
        _record_refusal(uow, job_id, exc.message)
        return None
    if resp.status_code >= 500 or resp.status_code == 429:
        raise httpx.HTTPStatusError("client callback failed", request=resp.request, response=resp)
    return resp.status_code


def _record_refusal(uow: UnitOfWork, job_id: str, reason: str) -> None:
    logger.warning("callback of job %s not sent: %s", job_id, reason)
    with uow:
        uow.jobs.add_stage_event(job_id, JobStage.DELIVERED.value, f"{CALLBACK_REFUSED}{reason}")
        uow.commit()
