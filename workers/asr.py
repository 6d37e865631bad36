"""The ``asr`` queue: pre-draft every audio task of a job, in batches spread over the workers."""

from __future__ import annotations

import logging

from celery.signals import celeryd_init, worker_process_init
from sqlalchemy.exc import OperationalError

from engine.asr.whisper_drafter import get_drafter
from engine.drafting.service import draft_batch, start_drafting
from engine.storage.object_store import TransientStorageError
from workers.celery_app import TRANSIENT_RETRY, app
from workers.tasks import holding_stage

log = logging.getLogger(__name__)

RETRY = {"autoretry_for": (TransientStorageError, OperationalError), **TRANSIENT_RETRY}

_serves_asr = False


@celeryd_init.connect
def _note_queues(options: dict[str, object] | None = None, **_kwargs: object) -> None:
    global _serves_asr
    queues = (options or {}).get("queues") or "asr"
    names = queues.split(",") if isinstance(queues, str) else list(queues)  # type: ignore[call-overload]
    _serves_asr = "asr" in names


@worker_process_init.connect
def _load_model(**_kwargs: object) -> None:
    # Load once per process of an asr worker, before its first task.
    if _serves_asr:
        try:
            get_drafter()
        except Exception:
            log.exception("the ASR model could not be loaded; asr tasks will fail")


@app.task(name="kazi.asr.draft_job", **RETRY)
def draft_job_task(job_id: str) -> int:
    """Fan a job's undrafted tasks out into batches (sent through the outbox); returns how
    many batches were queued."""
    drafter = get_drafter()
    with holding_stage(job_id) as ctx:
        return start_drafting(
            ctx.uow(), job_id, drafter.model_version, max(drafter.batch_size, 4),
            speaks=drafter.speaks,
        )  # fmt: skip


@app.task(name="kazi.asr.draft_batch", **RETRY)
def draft_batch_task(job_id: str, task_ids: list[str]) -> int:
    drafter = get_drafter()
    with holding_stage(job_id) as ctx:
        return draft_batch(ctx.uow(), ctx.store, drafter, job_id, task_ids)
