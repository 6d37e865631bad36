"""Pre-draft a job's audio tasks (the ``asr`` stage's use cases).

A batch's drafts become visible in one transaction after their JSON objects are written, so a
worker killed mid-batch leaves no half-written draft: the redelivered batch drafts exactly the
tasks that have none for this model version, and the (task, model version) unique key refuses
doubles. Audio is downloaded and drafts are written with no transaction open; the batch's
commit locks the job row, so the batch that drafts the last task moves the job to drafted.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy.exc import IntegrityError

from engine.asr.whisper_drafter import SegmentAudio
from engine.db.models import DraftRow, JobRow
from engine.domain.draft import SegmentDraft
from engine.domain.job_stage import JobStage
from engine.jobs.service import move_job_to
from engine.media.audio import decode_audio
from engine.media.errors import MediaError
from engine.pipeline.outbox import emit
from engine.pipeline.routing import PipelineEvent
from engine.storage.object_keys import object_key
from engine.storage.object_store import ObjectStore
from engine.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class Drafter(Protocol):
    model_version: str
    batch_size: int

    def draft_segments(self, segments: Sequence[SegmentAudio]) -> list[SegmentDraft]: ...


def _version_slug(model_version: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", model_version).strip("-.")[:120]


def start_drafting(
    uow: UnitOfWork,
    job_id: str,
    model_version: str,
    batch: int,
    speaks: Callable[[str], bool] | None = None,
) -> int:
    """Move the job to drafting and send (through the outbox) the batches of task ids still
    to draft; returns how many batches were sent. A job in a language the model does not
    speak (``speaks``, e.g. WhisperDrafter.speaks) gets no draft: it goes on undrafted with a
    warning in its stage history, as a wrong-language draft is worse than none."""
    with uow:
        job = uow.jobs.get(job_id, for_update=True)
        if job is None or job.stage not in (
            JobStage.SPLIT.value,
            JobStage.DRAFTING.value,
            JobStage.DRAFTED.value,
        ):
            return 0
        language = str(job.spec.get("language") or "en")
        if speaks is not None and not speaks(language) and job.stage != JobStage.DRAFTED.value:
            _skip_drafting(uow, job, model_version, language)
            uow.commit()
            return 0
        todo = [t.id for t in uow.drafts.tasks_without_draft(job_id, model_version)]
        if not todo and job.stage == JobStage.DRAFTED.value:
            return 0
        if job.stage != JobStage.DRAFTING.value:
            move_job_to(uow, job, JobStage.DRAFTING, f"model {model_version}")
        if not todo:
            _finish_drafting(uow, job, model_version)
            uow.commit()
            return 0
        batches = [todo[i : i + batch] for i in range(0, len(todo), batch)]
        for task_ids in batches:
            emit(uow, PipelineEvent.BATCH_TO_DRAFT, job_id, task_ids)
        uow.commit()
        return len(batches)


def _skip_drafting(uow: UnitOfWork, job: JobRow, model_version: str, language: str) -> None:
    warning = f"warning: no drafts: the ASR model {model_version} does not speak {language!r}"
    log.warning("job %s: %s", job.id, warning)
    if job.stage != JobStage.DRAFTING.value:
        move_job_to(uow, job, JobStage.DRAFTING, f"model {model_version}")
    move_job_to(uow, job, JobStage.DRAFTED, warning)


@dataclass(frozen=True)
class TaskAudio:
    id: str
    source_id: str
    seq: int
    object_key: str
    start_seconds: float


def _load_segments(
    store: ObjectStore, tasks: Sequence[TaskAudio], work: Path
) -> tuple[list[SegmentAudio], dict[str, str]]:
    segments: list[SegmentAudio] = []
    broken: dict[str, str] = {}
    for task in tasks:
        path = store.download_to(task.object_key, work / f"{task.id}.flac")
        try:
            samples = decode_audio(path, 16000)
        except MediaError as exc:
            broken[task.id] = f"segment audio is unreadable: {exc.reason}"
            continue
        segments.append(SegmentAudio(task.id, samples, offset_seconds=task.start_seconds))
    return segments, broken


def draft_batch(
    uow: UnitOfWork,
    store: ObjectStore,
    drafter: Drafter,
    job_id: str,
    task_ids: Sequence[str],
) -> int:
    """Draft one batch; returns how many drafts it added."""
    version = drafter.model_version
    with uow:
        job = uow.jobs.get(job_id)
        if job is None:
            return 0
        client_id = job.client_id
        done = uow.drafts.existing(task_ids, version)
        tasks = [
            TaskAudio(t.id, t.source_id, t.seq, t.object_key, t.start_seconds or 0.0)
            for t in uow.drafts.tasks([t for t in task_ids if t not in done])
        ]
    if not tasks:
        return 0
    with tempfile.TemporaryDirectory(prefix="kazi-asr-") as tmp:
        segments, broken = _load_segments(store, tasks, Path(tmp))
    drafts = drafter.draft_segments(segments) if segments else []

    by_id = {t.id: t for t in tasks}
    keys: dict[str, str] = {}
    for draft in drafts:
        if draft.ok:
            task = by_id[draft.task_id]
            key = object_key(
                client_id, job_id, "drafts", task.source_id,
                f"{task.seq:05d}.{_version_slug(version)}.json",
            )  # fmt: skip
            store.put_bytes(
                key, json.dumps(draft.to_json()).encode(), content_type="application/json"
            )
            keys[draft.task_id] = key
        else:
            broken[draft.task_id] = draft.error or "the model could not draft this segment"

    try:
        return _commit_batch(uow, job_id, drafts, keys, broken, list(by_id), version)
    except IntegrityError:
        # A redelivered copy of this batch committed the same drafts first.
        log.info("batch of job %s was drafted concurrently; keeping the first copy", job_id)
        return 0


def _commit_batch(
    uow: UnitOfWork,
    job_id: str,
    drafts: Sequence[SegmentDraft],
    keys: dict[str, str],
    broken: dict[str, str],
    task_ids: list[str],
    version: str,
) -> int:
    added = 0
    with uow:
        # Batches of one job commit one at a time, so exactly one sees the last draft land.
        job = uow.jobs.get(job_id, for_update=True)
        if job is None:
            return 0
        already = uow.drafts.existing(task_ids, version)
        for draft in drafts:
            if draft.task_id in keys and draft.task_id not in already:
                uow.drafts.add(
                    DraftRow(
                        task_id=draft.task_id,
                        model_version=version,
                        text=draft.text,
                        words=[w.to_json() for w in draft.words],
                        avg_logprob=draft.avg_logprob,
                        low_confidence_words=sum(1 for w in draft.words if w.low_confidence),
                        object_key=keys[draft.task_id],
                    )
                )
                added += 1
        for task in uow.drafts.tasks(task_ids):
            if task.id in broken:
                task.status, task.failure_reason = "failed", broken[task.id]
            elif task.id in keys:
                task.status = "drafted"
        uow.flush()
        if job.stage == JobStage.DRAFTING.value:
            _finish_drafting(uow, job, version)
        uow.commit()
    return added


def _finish_drafting(uow: UnitOfWork, job: JobRow, model_version: str) -> None:
    """Move the job on once no task is left without a draft (any batch may be the last)."""
    if uow.drafts.tasks_without_draft(job.id, model_version):
        return
    counts = uow.jobs.task_counts(job.id)
    failed = counts.get("failed", 0)
    if failed and failed == sum(counts.values()):
        move_job_to(uow, job, JobStage.FAILED, "no segment could be drafted")
        return
    detail = f"{counts.get('drafted', 0)} drafts by {model_version}"
    if failed:
        detail += f"; {failed} segments failed"
    move_job_to(uow, job, JobStage.DRAFTED, detail)
