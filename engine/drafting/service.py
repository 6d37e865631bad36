"""Pre-draft a job's audio tasks (the ``asr`` stage's use cases).

A batch's drafts become visible in one transaction after their JSON objects are written, so a
worker killed mid-batch leaves no half-written draft: the redelivered batch drafts exactly the
tasks that have none for this model version, and the (task, model version) unique key refuses
doubles.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from engine.asr.whisper_drafter import SegmentAudio
from engine.db.models import DraftRow, JobRow
from engine.domain.draft import SegmentDraft
from engine.domain.job_stage import JobStage
from engine.drafting.repository import DraftRepository
from engine.jobs.repository import JobRepository
from engine.jobs.service import move_job_to
from engine.media.audio import decode_audio
from engine.media.errors import MediaError
from engine.storage.object_keys import object_key
from engine.storage.object_store import ObjectStore

log = logging.getLogger(__name__)


class Drafter(Protocol):
    model_version: str
    batch_size: int

    def draft_segments(self, segments: Sequence[SegmentAudio]) -> list[SegmentDraft]: ...


def _version_slug(model_version: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", model_version).strip("-.")[:120]


def start_drafting(
    sessions: sessionmaker[Session], job_id: str, model_version: str, batch: int
) -> list[list[str]]:
    """Move the job to drafting and return the batches of task ids still to draft."""
    with sessions.begin() as session:
        job = JobRepository(session).get(job_id, for_update=True)
        if job is None or job.stage not in (
            JobStage.SPLIT.value,
            JobStage.DRAFTING.value,
            JobStage.DRAFTED.value,
        ):
            return []
        todo = [t.id for t in DraftRepository(session).tasks_without_draft(job_id, model_version)]
        if not todo and job.stage == JobStage.DRAFTED.value:
            return []
        if job.stage != JobStage.DRAFTING.value:
            move_job_to(session, job, JobStage.DRAFTING, f"model {model_version}")
        if not todo:
            move_job_to(session, job, JobStage.DRAFTED, f"all drafts exist for {model_version}")
            return []
    return [todo[i : i + batch] for i in range(0, len(todo), batch)]


def _load_segments(store: ObjectStore, session: Session, task_ids: Sequence[str], work: Path):  # type: ignore[no-untyped-def]
    segments: list[SegmentAudio] = []
    broken: dict[str, str] = {}
    for task in DraftRepository(session).tasks(task_ids):
        path = store.download_to(task.object_key, work / f"{task.id}.flac")
        try:
            samples = decode_audio(path, 16000)
        except MediaError as exc:
            broken[task.id] = f"segment audio is unreadable: {exc.reason}"
            continue
        segments.append(SegmentAudio(task.id, samples, offset_seconds=task.start_seconds or 0.0))
    return segments, broken


def draft_batch(
    sessions: sessionmaker[Session],
    store: ObjectStore,
    drafter: Drafter,
    job_id: str,
    task_ids: Sequence[str],
) -> int:
    """Draft one batch; returns how many drafts it added."""
    version = drafter.model_version
    with sessions() as session:
        job = JobRepository(session).get(job_id)
        if job is None:
            return 0
        pending = [
            t for t in task_ids if t not in DraftRepository(session).existing(task_ids, version)
        ]
        if not pending:
            return 0
        with tempfile.TemporaryDirectory(prefix="kazi-asr-") as tmp:
            segments, broken = _load_segments(store, session, pending, Path(tmp))
        tasks = {t.id: t for t in DraftRepository(session).tasks(pending)}
        client_id = job.client_id
    drafts = drafter.draft_segments(segments) if segments else []

    keys: dict[str, str] = {}
    for draft in drafts:
        if draft.ok:
            task = tasks[draft.task_id]
            key = object_key(
                client_id,
                job_id,
                "drafts",
                task.source_id,
                f"{task.seq:05d}.{_version_slug(version)}.json",
            )
            store.put_bytes(
                key, json.dumps(draft.to_json()).encode(), content_type="application/json"
            )
            keys[draft.task_id] = key
        else:
            broken[draft.task_id] = draft.error or "the model could not draft this segment"

    try:
        return _commit_batch(sessions, drafts, keys, broken, list(tasks), version)
    except IntegrityError:
        # A redelivered copy of this batch committed the same drafts first.
        log.info("batch of job %s was drafted concurrently; keeping the first copy", job_id)
        return 0


def _commit_batch(
    sessions: sessionmaker[Session],
    drafts: Sequence[SegmentDraft],
    keys: dict[str, str],
    broken: dict[str, str],
    task_ids: list[str],
    version: str,
) -> int:
    added = 0
    with sessions.begin() as session:
        repo = DraftRepository(session)
        already = repo.existing(task_ids, version)
        for draft in drafts:
            if draft.task_id in keys and draft.task_id not in already:
                repo.add(
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
        for task in repo.tasks(task_ids):
            if task.id in broken:
                task.status, task.failure_reason = "failed", broken[task.id]
            elif task.id in keys:
                task.status = "drafted"
    return added


def finish_drafting(
    sessions: sessionmaker[Session], job_id: str, model_version: str
) -> JobStage | None:
    """Move the job to drafted once no task is left without a draft (any batch may be last)."""
    with sessions.begin() as session:
        job: JobRow | None = JobRepository(session).get(job_id, for_update=True)
        if job is None or job.stage != JobStage.DRAFTING.value:
            return JobStage(job.stage) if job else None
        if DraftRepository(session).tasks_without_draft(job_id, model_version):
            return JobStage.DRAFTING
        counts = JobRepository(session).task_counts(job_id)
        failed = counts.get("failed", 0)
        if failed and failed == sum(counts.values()):
            move_job_to(session, job, JobStage.FAILED, "no segment could be drafted")
            return JobStage.FAILED
        detail = f"{counts.get('drafted', 0)} drafts by {model_version}"
        if failed:
            detail += f"; {failed} segments failed"
        move_job_to(session, job, JobStage.DRAFTED, detail)
        return JobStage.DRAFTED
