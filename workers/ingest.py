"""The ``ingest`` queue: split a job's media into microtasks."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from engine.splitting.service import split_job
from engine.storage.object_store import TransientStorageError
from workers.celery_app import TRANSIENT_RETRY, app
from workers.tasks import holding_stage


@app.task(
    name="kazi.ingest.split_job",
    autoretry_for=(TransientStorageError, OperationalError),
    **TRANSIENT_RETRY,
)
def split_job_task(job_id: str) -> str | None:
    with holding_stage(job_id) as ctx:
        stage = split_job(ctx.uow(), ctx.store, job_id, ctx.tiling)
    return stage.value if stage else None
