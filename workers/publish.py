"""The ``publish`` queue: open jobs for work, expire leases, reconcile Label Studio answers."""

from __future__ import annotations

import logging

from sqlalchemy.exc import OperationalError

from engine.bootstrap import get_context
from engine.label_studio_sync.service import reconcile
from engine.labeling.gateway_factory import label_studio_gateway
from engine.publishing.service import (
    LABEL_STUDIO_LINK_LIFETIME,
    begin_publishing,
    finish_publishing,
    publish_detail,
    publish_review_to_label_studio,
    publish_to_label_studio,
)
from engine.quality.triggers import job_ready_after_answer
from engine.storage.object_store import TransientStorageError
from engine.work.service import DistributionSettings, expire_leases
from workers.celery_app import TRANSIENT_RETRY, app
from workers.dispatch import enqueue_score

log = logging.getLogger(__name__)


def _retry_on() -> tuple[type[BaseException], ...]:
    from engine.labeling.label_studio_gateway import LabelStudioUnavailable

    return (TransientStorageError, OperationalError, LabelStudioUnavailable)


def _distribution() -> DistributionSettings:
    s = get_context().settings
    return DistributionSettings(float(s.lease_seconds), s.trainee_gold_ratio)


@app.task(name="kazi.publish.publish_job", autoretry_for=_retry_on(), **TRANSIENT_RETRY)
def publish_job_task(job_id: str) -> str | None:
    ctx = get_context()
    spec = begin_publishing(ctx.sessions, job_id)
    if spec is None:
        return None
    projects: list[int] = []
    gateway = label_studio_gateway(ctx.settings)
    if gateway is not None:
        projects = publish_to_label_studio(
            ctx.sessions,
            gateway,
            job_id,
            spec,
            lambda key: ctx.store.presigned_get_url(key, LABEL_STUDIO_LINK_LIFETIME),
            ctx.settings.webhook_url(),
            ctx.settings.webhook_secret,
            ctx.settings.label_studio_import_batch,
        )
    stage = finish_publishing(ctx.sessions, job_id, publish_detail(ctx.sessions, job_id, projects))
    return stage.value if stage else None


@app.task(name="kazi.publish.expire_leases")
def expire_leases_task() -> int:
    ctx = get_context()
    with ctx.sessions.begin() as session:
        return expire_leases(session)


@app.task(name="kazi.publish.reconcile", autoretry_for=_retry_on(), **TRANSIENT_RETRY)
def reconcile_task(job_id: str | None = None) -> dict[str, int]:
    ctx = get_context()
    gateway = label_studio_gateway(ctx.settings)
    if gateway is None:
        return {}
    report = reconcile(ctx.sessions, gateway, _distribution(), job_id)
    for changed in report.jobs_with_new_answers:
        with ctx.sessions() as session:
            if job_ready_after_answer(session, changed):
                enqueue_score(changed)
    return {k: v for k, v in vars(report).items() if isinstance(v, int)}


@app.task(name="kazi.publish.publish_review", autoretry_for=_retry_on(), **TRANSIENT_RETRY)
def publish_review_task(job_id: str) -> int | None:
    """Results in review go to the job's Label Studio review project too (the review API
    serves reviewers either way)."""
    ctx = get_context()
    gateway = label_studio_gateway(ctx.settings)
    if gateway is None:
        return None
    return publish_review_to_label_studio(
        ctx.sessions,
        gateway,
        job_id,
        lambda key: ctx.store.presigned_get_url(key, LABEL_STUDIO_LINK_LIFETIME),
        ctx.settings.webhook_url(),
        ctx.settings.webhook_secret,
    )
