"""The ``publish`` queue: open jobs for work, expire leases, reconcile Label Studio answers.

Publishing and reconciliation are staged use cases (they commit their own short steps around
Label Studio calls) and get a fresh unit of work; what runs after them is in the outbox.
"""

from __future__ import annotations

import logging

from celery import Task
from sqlalchemy.exc import OperationalError

from engine.bootstrap import EngineContext, get_context
from engine.label_studio_sync.service import reconcile
from engine.labeling.gateway_factory import label_studio_gateway
from engine.publishing.ls_server import label_studio_server
from engine.publishing.service import (
    LABEL_STUDIO_LINK_LIFETIME,
    LabelStudioTarget,
    fail_publishing,
    publish_failure_reason,
    publish_job,
    publish_review_to_label_studio,
)
from engine.storage.object_store import TransientStorageError
from engine.work.service import DistributionSettings, expire_leases
from workers.celery_app import TRANSIENT_RETRY, app
from workers.tasks import holding_stage, in_unit_of_work

log = logging.getLogger(__name__)


def _retry_on() -> tuple[type[BaseException], ...]:
    from engine.labeling.label_studio_gateway import LabelStudioUnavailable

    return (TransientStorageError, OperationalError, LabelStudioUnavailable)


def _distribution(ctx: EngineContext) -> DistributionSettings:
    s = ctx.settings
    return DistributionSettings.from_settings(s)


def _label_studio(ctx: EngineContext) -> LabelStudioTarget | None:
    gateway = label_studio_gateway(ctx.settings)
    if gateway is None:
        return None
    return LabelStudioTarget(
        gateway,
        lambda key: ctx.store.presigned_get_url(key, LABEL_STUDIO_LINK_LIFETIME),
        ctx.settings.webhook_url(),
        ctx.settings.webhook_secret,
        ctx.settings.label_studio_import_batch,
        server=label_studio_server(ctx.settings.label_studio_url),
    )


@app.task(name="kazi.publish.publish_job", bind=True, autoretry_for=_retry_on(), **TRANSIENT_RETRY)
def publish_job_task(self: Task, job_id: str) -> str | None:
    try:
        with holding_stage(job_id) as ctx:
            stage = publish_job(ctx.uow(), job_id, _label_studio(ctx))
    except _retry_on() as exc:
        if self.request.retries < (self.max_retries or 0):
            raise  # autoretry tries again later
        _fail_job(job_id, exc)
        raise
    except Exception as exc:  # no retry mends it: the job fails with the reason, not stalls
        _fail_job(job_id, exc)
        raise
    return stage.value if stage else None


def _fail_job(job_id: str, error: BaseException) -> None:
    log.error("publishing job %s failed for good: %r", job_id, error)
    in_unit_of_work(get_context(), fail_publishing, job_id, publish_failure_reason(error))


@app.task(name="kazi.publish.expire_leases")
def expire_leases_task() -> int:
    return in_unit_of_work(get_context(), expire_leases)


@app.task(name="kazi.publish.reconcile", autoretry_for=_retry_on(), **TRANSIENT_RETRY)
def reconcile_task(job_id: str | None = None) -> dict[str, int]:
    ctx = get_context()
    gateway = label_studio_gateway(ctx.settings)
    if gateway is None:
        return {}
    server = label_studio_server(ctx.settings.label_studio_url)
    report = reconcile(ctx.uow(), gateway, server, _distribution(ctx), job_id)
    return {k: v for k, v in vars(report).items() if isinstance(v, int)}


@app.task(name="kazi.publish.publish_review", autoretry_for=_retry_on(), **TRANSIENT_RETRY)
def publish_review_task(job_id: str) -> int | None:
    """Results in review go to the job's Label Studio review project too (the review API
    serves reviewers either way)."""
    ctx = get_context()
    target = _label_studio(ctx)
    if target is None:
        return None
    return publish_review_to_label_studio(ctx.uow(), target, job_id)
