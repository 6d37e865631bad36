"""Publish a job for work (the ``publish`` stage's use cases).

Every regular task gets ``overlap`` answer slots. When Label Studio is configured, the job also
gets one Label Studio project per overlap replica (each with at most one annotation per task, so
no worker sees another's answer), with drafts as predictions. Imports go in batches and each
batch's task links are committed with it, so a retried publish skips what is already there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from engine.db.models import LabelStudioProjectRow, LabelStudioTaskRow, TaskRow
from engine.domain.job_stage import JobKind, JobStage
from engine.domain.labeling_payload import draft_prediction, task_data
from engine.drafting.repository import DraftRepository
from engine.jobs.repository import JobRepository
from engine.jobs.service import move_job_to
from engine.labeling.label_configs import render_label_config
from engine.publishing.repository import PublishRepository
from engine.work.repository import WorkRepository
from schemas.jobs import JobSpec

log = logging.getLogger(__name__)

# Presigned links in Label Studio tasks; S3 allows at most 7 days.
LABEL_STUDIO_LINK_LIFETIME = timedelta(days=7)


class LabelStudioPort(Protocol):
    def create_project(self, title: str, label_config: str, description: str = "") -> int: ...

    def import_tasks(
        self, project_id: int, tasks: Sequence[dict[str, Any]], batch_size: int = 500
    ) -> list[int]: ...

    def existing_task_ids(self, project_id: int) -> dict[str, int]: ...

    def register_webhook(self, project_id: int, url: str, secret: str) -> int: ...

    def annotations(self, project_id: int) -> Iterator[dict[str, Any]]: ...


MediaLink = Callable[[str], str]


def _ls_task(job_kind: JobKind, task: TaskRow, link: MediaLink, draft: Any) -> dict[str, Any]:
    data = task_data(
        kind=job_kind.value,
        media_url=link(task.object_key),
        draft_text=draft.text if draft else None,
        draft_words=draft.words if draft else None,
        kazi_task_id=task.id,
    )
    item: dict[str, Any] = {"data": data}
    if draft is not None:
        item["predictions"] = [draft_prediction(draft.text, draft.model_version, None)]
    return item


def begin_publishing(sessions: sessionmaker[Session], job_id: str) -> JobSpec | None:
    """Move the job to publishing and make its answer slots; None when there is nothing to do."""
    with sessions.begin() as session:
        job = JobRepository(session).get(job_id, for_update=True)
        if job is None or job.stage not in (
            JobStage.SPLIT.value,
            JobStage.DRAFTED.value,
            JobStage.PUBLISHING.value,
        ):
            return None
        spec = JobSpec.model_validate(job.spec)
        if job.stage != JobStage.PUBLISHING.value:
            move_job_to(session, job, JobStage.PUBLISHING)
        work = WorkRepository(session)
        task_ids = work.workable_task_ids(job_id)
        if not task_ids:
            move_job_to(session, job, JobStage.FAILED, "no task left to label")
            return None
        work.add_slots(job_id, task_ids, spec.overlap)
    with sessions.begin() as session:
        WorkRepository(session).refresh_statistics()
    return spec


def publish_to_label_studio(
    sessions: sessionmaker[Session],
    port: LabelStudioPort,
    job_id: str,
    spec: JobSpec,
    link: MediaLink,
    webhook_url: str,
    webhook_secret: str,
    batch_size: int = 500,
) -> list[int]:
    """Make (or find) the job's replica projects and import every task not yet there."""
    config = render_label_config(spec.kind.value, spec.labels)
    project_ids: list[int] = []
    for replica in range(spec.overlap):
        with sessions.begin() as session:
            repo = PublishRepository(session)
            row = repo.project(job_id, "work", replica)
            fresh = row is None
            if row is None:
                ls_id = port.create_project(
                    f"Kazi {spec.kind.value} {job_id[:8]} #{replica + 1}",
                    config,
                    f"Job {job_id}, answer copy {replica + 1} of {spec.overlap}. "
                    "Start work from your Kazi link so the engine can lease you a task.",
                )
                repo.add_project(
                    LabelStudioProjectRow(
                        ls_project_id=ls_id, job_id=job_id, role="work", replica=replica
                    )
                )
                port.register_webhook(ls_id, webhook_url, webhook_secret)
            else:
                ls_id = row.ls_project_id
            project_ids.append(ls_id)
        _import_missing(sessions, port, job_id, spec, ls_id, replica, link, batch_size, fresh)
    return project_ids


def _import_missing(
    sessions: sessionmaker[Session],
    port: LabelStudioPort,
    job_id: str,
    spec: JobSpec,
    ls_project_id: int,
    replica: int,
    link: MediaLink,
    batch_size: int,
    fresh_project: bool,
) -> None:
    with sessions() as session:
        repo = PublishRepository(session)
        done = repo.published_task_ids(ls_project_id)
        tasks = [t for t in repo.publishable_tasks(job_id) if t.id not in done]
        if not tasks:
            return
        # A crash after Label Studio took a batch but before we recorded it: adopt those tasks.
        in_ls = {} if fresh_project else port.existing_task_ids(ls_project_id)
        drafts = DraftRepository(session).latest_per_task(job_id)
        session.expunge_all()
    adopted = [
        LabelStudioTaskRow(
            ls_task_id=in_ls[t.id], ls_project_id=ls_project_id, task_id=t.id, replica=replica
        )
        for t in tasks
        if t.id in in_ls
    ]
    if adopted:
        with sessions.begin() as session:
            PublishRepository(session).add_task_links(adopted)
    todo = [t for t in tasks if t.id not in in_ls]
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        items = [_ls_task(spec.kind, t, link, drafts.get(t.id)) for t in batch]
        ls_ids = port.import_tasks(ls_project_id, items, batch_size=batch_size)
        with sessions.begin() as session:
            PublishRepository(session).add_task_links(
                [
                    LabelStudioTaskRow(
                        ls_task_id=ls_id,
                        ls_project_id=ls_project_id,
                        task_id=t.id,
                        replica=replica,
                    )
                    for t, ls_id in zip(batch, ls_ids, strict=True)
                ]
            )
        log.info("job %s: %d tasks into Label Studio project %d", job_id, len(batch), ls_project_id)


def finish_publishing(sessions: sessionmaker[Session], job_id: str, detail: str) -> JobStage | None:
    with sessions.begin() as session:
        job = JobRepository(session).get(job_id, for_update=True)
        if job is None:
            return None
        if job.stage == JobStage.PUBLISHING.value:
            move_job_to(session, job, JobStage.LABELING, detail)
        return JobStage(job.stage)


def publish_detail(sessions: sessionmaker[Session], job_id: str, projects: list[int]) -> str:
    with sessions() as session:
        counts = WorkRepository(session).slot_counts(job_id)
    slots = sum(counts.values())
    where = (
        f"Label Studio projects {', '.join(map(str, projects))} and the worker API"
        if projects
        else "the worker API (Label Studio not configured)"
    )
    return f"{slots} answer slots open on {where}"


REVIEW_REPLICA = -1


def publish_review_to_label_studio(
    sessions: sessionmaker[Session],
    port: LabelStudioPort,
    job_id: str,
    link: MediaLink,
    webhook_url: str,
    webhook_secret: str,
) -> int | None:
    """The job's Label Studio review project: each result in review, with the consensus as the
    prediction a reviewer accepts (submit as is) or corrects. Idempotent."""
    from engine.domain.labeling_payload import annotation_result_from_answer
    from engine.quality.repository import QualityRepository

    with sessions.begin() as session:
        job = JobRepository(session).get(job_id)
        if job is None or job.stage != JobStage.REVIEWING.value:
            return None
        spec = JobSpec.model_validate(job.spec)
        repo = PublishRepository(session)
        row = repo.project(job_id, "review", 0)
        if row is None:
            ls_id = port.create_project(
                f"Kazi review {spec.kind.value} {job_id[:8]}",
                render_label_config(spec.kind.value, spec.labels),
                f"QA review of job {job_id}: submit the prediction as it is to accept it, or "
                "correct it first.",
            )
            repo.add_project(
                LabelStudioProjectRow(ls_project_id=ls_id, job_id=job_id, role="review", replica=0)
            )
            port.register_webhook(ls_id, webhook_url, webhook_secret)
        else:
            ls_id = row.ls_project_id
        done = repo.published_task_ids(ls_id)
        results = [r for r in QualityRepository(session).results_in_review(job_id)
                   if r.task_id not in done]  # fmt: skip
        tasks = {t.id: t for t in repo.publishable_tasks(job_id)}
        items, batch = [], []
        for r in results:
            task = tasks[r.task_id]
            size = (task.box_w, task.box_h) if task.box_w and task.box_h else None
            text = r.consensus.get("text") if spec.kind is JobKind.TRANSCRIPTION else None
            data = task_data(kind=spec.kind.value, media_url=link(task.object_key),
                             draft_text=text, draft_words=None, kazi_task_id=task.id)  # fmt: skip
            result = annotation_result_from_answer(spec.kind, r.consensus, size)
            prediction = {"model_version": "consensus", "score": r.agreement, "result": result}
            items.append({"data": data, "predictions": [prediction]})
            batch.append(task.id)
    if items:
        ls_ids = port.import_tasks(ls_id, items)
        with sessions.begin() as session:
            PublishRepository(session).add_task_links(
                [
                    LabelStudioTaskRow(
                        ls_task_id=i, ls_project_id=ls_id, task_id=t, replica=REVIEW_REPLICA
                    )  # fmt: skip
                    for t, i in zip(batch, ls_ids, strict=True)
                ]
            )
    return ls_id
