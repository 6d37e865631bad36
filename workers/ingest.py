"""The ``ingest`` queue: split a job's media into microtasks."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from engine.bootstrap import get_context
from engine.domain.job_stage import JobStage
from engine.jobs.intake import requeue_stalled_jobs
from engine.jobs.service import job_needs_drafts
from engine.splitting.service import split_job
from engine.storage.object_store import TransientStorageError
from workers.celery_app import TRANSIENT_RETRY, app
from workers.dispatch import enqueue_drafts, enqueue_publish, enqueue_split


@app.task(
    name="kazi.ingest.split_job",
    autoretry_for=(TransientStorageError, OperationalError),
    **TRANSIENT_RETRY,
)
def split_job_task(job_id: str) -> str | None:
    ctx = get_context()
    stage = split_job(ctx.sessions, ctx.store, job_id, ctx.tiling)
    if stage is JobStage.SPLIT:
        if job_needs_drafts(ctx.sessions, job_id):
            enqueue_drafts(job_id)
        else:
            enqueue_publish(job_id)
    return stage.value if stage else None


@app.task(name="kazi.ingest.requeue_stalled")
def requeue_stalled_task() -> list[str]:
    ctx = get_context()
    with ctx.sessions() as session:
        return requeue_stalled_jobs(session, enqueue_split)
