"""Publish a job for work (the ``publish`` stage's use cases).

Every regular task gets ``overlap`` answer slots. When Label Studio is configured, the job also
gets one Label Studio project per overlap replica (each with at most one annotation per task, so
no worker sees another's answer), with drafts as predictions; a job in review gets a review
project with the consensus as the prediction.

These are staged use cases: they take a closed unit of work and commit one short step at a
time, and no Label Studio call runs while a transaction is open. Each Label Studio effect is
made first, idempotently, and then recorded:

- a project is looked up by its title (which names the job, role and replica; its description
  holds the whole job id) before one is created, so a project created but never recorded (a
  crash or a lost response in between) is found and recorded on the retry, not made twice. Its
  webhook is registered before the project is recorded, so a recorded project has its webhook.
- tasks go in batches, each batch's links recorded right after Label Studio took it. A project
  this run did not create is first asked which Kazi tasks it holds: those (a batch Label Studio
  took before a crash) are adopted, not imported again.

Two publishers at once on one job are kept apart by the stage lease the task holds; should they
still race, the project recorded first wins and the loser deletes the empty one it made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from engine.db.models import LabelStudioTaskRow, TaskRow
from engine.domain.job_stage import JobKind, JobStage
from engine.domain.labeling_payload import (
    annotation_result_from_answer,
    draft_prediction,
    ls_task,
    task_data,
)
from engine.jobs.service import move_job_to
from engine.labeling.label_configs import render_label_config
from engine.unit_of_work import UnitOfWork
from schemas.jobs import JobSpec

log = logging.getLogger(__name__)

# Presigned links in Label Studio tasks; S3 allows at most 7 days.
LABEL_STUDIO_LINK_LIFETIME = timedelta(days=7)
# The replica recorded for review-project task links.
REVIEW_REPLICA = -1


class LabelStudioPort(Protocol):
    def create_project(self, title: str, label_config: str, description: str = "") -> int: ...

    def projects_titled(self, title: str) -> list[tuple[int, str]]: ...

    def delete_project(self, project_id: int) -> None: ...

    def import_tasks(
        self, project_id: int, tasks: Sequence[dict[str, Any]], batch_size: int = 500
    ) -> list[int]: ...

    def existing_task_ids(self, project_id: int) -> dict[str, int]: ...

    def register_webhook(self, project_id: int, url: str, secret: str) -> int: ...

    def annotations(self, project_id: int) -> Iterator[dict[str, Any]]: ...


MediaLink = Callable[[str], str]


@dataclass(frozen=True)
class LabelStudioTarget:
    """Where and how a job goes to Label Studio."""

    port: LabelStudioPort
    link: MediaLink  # object key -> URL Label Studio's browser clients can fetch
    webhook_url: str
    webhook_secret: str
    batch_size: int = 500
    # Which Label Studio the port talks to (engine/publishing/ls_server.py): ids are its own.
    server: str = field(kw_only=True)


@dataclass(frozen=True)
class _ProjectName:
    role: str
    replica: int
    title: str
    description: str


@dataclass(frozen=True)
class _TaskToPublish:
    """What one Label Studio task is made of, read in a transaction and built outside it."""

    task_id: str
    object_key: str
    draft_text: str | None = None
    draft_words: list[Any] | None = None
    predictions: list[dict[str, Any]] = field(default_factory=list)


# -- the publish stage -------------------------------------------------------------------------


def publish_job(
    uow: UnitOfWork, job_id: str, label_studio: LabelStudioTarget | None
) -> JobStage | None:
    """Open the job for work: answer slots, Label Studio projects when configured, then
    labeling. Idempotent; returns the job's stage after it (None: nothing to publish)."""
    spec = begin_publishing(uow, job_id)
    if spec is None:
        return None
    projects = publish_to_label_studio(uow, label_studio, job_id, spec) if label_studio else []
    return finish_publishing(uow, job_id, projects)


def begin_publishing(uow: UnitOfWork, job_id: str) -> JobSpec | None:
    """Move the job to publishing and make its answer slots; None when there is nothing to do."""
    with uow:
        job = uow.jobs.get(job_id, for_update=True)
        if job is None or job.stage not in (
            JobStage.SPLIT.value,
            JobStage.DRAFTED.value,
            JobStage.PUBLISHING.value,
        ):
            return None
        spec = JobSpec.model_validate(job.spec)
        if job.stage != JobStage.PUBLISHING.value:
            move_job_to(uow, job, JobStage.PUBLISHING)
        task_ids = uow.work.workable_task_ids(job_id)
        if not task_ids:
            move_job_to(uow, job, JobStage.FAILED, "no task left to label")
            uow.commit()
            return None
        uow.work.add_slots(job_id, task_ids, spec.overlap)
        uow.commit()
    with uow:
        uow.work.refresh_statistics()
        uow.commit()
    return spec


def finish_publishing(uow: UnitOfWork, job_id: str, projects: Sequence[int]) -> JobStage | None:
    """Open the job for labeling (no next step: people answer now)."""
    with uow:
        job = uow.jobs.get(job_id, for_update=True)
        if job is None:
            return None
        if job.stage == JobStage.PUBLISHING.value:
            slots = sum(uow.work.slot_counts(job_id).values())
            move_job_to(uow, job, JobStage.LABELING, _publish_detail(slots, projects))
        stage = JobStage(job.stage)
        uow.commit()
        return stage


def fail_publishing(uow: UnitOfWork, job_id: str, reason: str) -> bool:
    """Publishing cannot succeed (an error no retry mends, or retries spent): the job fails with
    the reason instead of waiting in publishing. Single transaction; True when it moved."""
    job = uow.jobs.get(job_id, for_update=True)
    if job is None or job.stage != JobStage.PUBLISHING.value:
        return False
    move_job_to(uow, job, JobStage.FAILED, reason)
    return True


def publish_failure_reason(error: BaseException) -> str:
    """What a client reads as the job's failure reason (first line of the error, bounded)."""
    first_line = (str(error).strip().splitlines() or [""])[0]
    return f"publishing failed: {type(error).__name__}: {first_line}"[:500]


def _publish_detail(slots: int, projects: Sequence[int]) -> str:
    where = (
        f"Label Studio projects {', '.join(map(str, projects))} and the worker API"
        if projects
        else "the worker API (Label Studio not configured)"
    )
    return f"{slots} answer slots open on {where}"


def publish_to_label_studio(
    uow: UnitOfWork, target: LabelStudioTarget, job_id: str, spec: JobSpec
) -> list[int]:
    """Make (or find) the job's replica projects and put every task not yet there in each."""
    config = render_label_config(spec.kind.value, spec.labels)
    project_ids: list[int] = []
    for replica in range(spec.overlap):
        name = _ProjectName(
            "work",
            replica,
            f"Kazi {spec.kind.value} {job_id[:8]} #{replica + 1}",
            f"Job {job_id}, answer copy {replica + 1} of {spec.overlap}. "
            "Start work from your Kazi link so the engine can lease you a task.",
        )
        ls_id, fresh = _ensure_project(uow, target, job_id, name, config)
        project_ids.append(ls_id)
        _put_tasks(uow, target, spec.kind, ls_id, replica, fresh, lambda u: _work_tasks(u, job_id))
    return project_ids


def _work_tasks(uow: UnitOfWork, job_id: str) -> list[_TaskToPublish]:
    drafts = uow.drafts.latest_per_task(job_id)
    out = []
    for task in uow.publishing.publishable_tasks(job_id):
        draft = drafts.get(task.id)
        if draft is None:
            out.append(_TaskToPublish(task.id, task.object_key))
            continue
        # A blank draft (silence) pre-fills nothing; Label Studio gets no prediction for it.
        predictions = (
            [draft_prediction(draft.text, draft.model_version)] if draft.text.strip() else []
        )
        out.append(_TaskToPublish(task.id, task.object_key, draft.text, draft.words, predictions))
    return out


# -- the review project ------------------------------------------------------------------------


def publish_review_to_label_studio(
    uow: UnitOfWork, target: LabelStudioTarget, job_id: str
) -> int | None:
    """The job's Label Studio review project: each result in review, with the consensus as the
    prediction a reviewer accepts (submit as is) or corrects. Idempotent."""
    with uow:
        job = uow.jobs.get(job_id)
        if job is None or job.stage != JobStage.REVIEWING.value:
            return None
        spec = JobSpec.model_validate(job.spec)
    name = _ProjectName(
        "review",
        0,
        f"Kazi review {spec.kind.value} {job_id[:8]}",
        f"QA review of job {job_id}: submit the prediction as it is to accept it, or "
        "correct it first.",
    )
    config = render_label_config(spec.kind.value, spec.labels)
    ls_id, fresh = _ensure_project(uow, target, job_id, name, config)
    _put_tasks(
        uow, target, spec.kind, ls_id, REVIEW_REPLICA, fresh,
        lambda u: _review_tasks(u, job_id, spec.kind),
    )  # fmt: skip
    return ls_id


def _review_tasks(uow: UnitOfWork, job_id: str, kind: JobKind) -> list[_TaskToPublish]:
    tasks = {t.id: t for t in uow.publishing.publishable_tasks(job_id)}
    out = []
    for r in uow.quality.results_in_review(job_id):
        task = tasks[r.task_id]
        text = r.consensus.get("text") if kind is JobKind.TRANSCRIPTION else None
        result = annotation_result_from_answer(kind, r.consensus, _image_size(task))
        prediction = {"model_version": "consensus", "score": r.agreement, "result": result}
        out.append(_TaskToPublish(task.id, task.object_key, text, None, [prediction]))
    return out


def _image_size(task: TaskRow) -> tuple[int, int] | None:
    return (task.box_w, task.box_h) if task.box_w and task.box_h else None


# -- the two idempotent Label Studio steps -----------------------------------------------------


def _ensure_project(
    uow: UnitOfWork, target: LabelStudioTarget, job_id: str, name: _ProjectName, config: str
) -> tuple[int, bool]:
    """The job's project for ``name``: the recorded one, else one found in Label Studio by its
    title, else a new one. Returns (Label Studio id, whether this call created it)."""
    with uow:
        row = uow.publishing.project(job_id, name.role, name.replica, target.server)
        recorded = row.ls_project_id if row is not None else None
    if recorded is not None:
        return recorded, False
    port = target.port
    found = [pid for pid, about in port.projects_titled(name.title) if job_id in about]
    if found:
        ls_id, fresh = min(found), False
        log.info("job %s: adopting Label Studio project %d (%s)", job_id, ls_id, name.title)
    else:
        ls_id, fresh = port.create_project(name.title, config, name.description), True
    port.register_webhook(ls_id, target.webhook_url, target.webhook_secret)
    with uow:
        kept = uow.publishing.record_project(job_id, name.role, name.replica, target.server,
                                             ls_id)  # fmt: skip
        uow.commit()
    if kept != ls_id:
        log.warning("job %s: project %d was recorded first; dropping %d", job_id, kept, ls_id)
        if fresh:  # still empty: nothing was imported into it
            port.delete_project(ls_id)
        return kept, False
    return ls_id, fresh


def _put_tasks(
    uow: UnitOfWork,
    target: LabelStudioTarget,
    kind: JobKind,
    ls_project_id: int,
    replica: int,
    fresh_project: bool,
    tasks_of: Callable[[UnitOfWork], list[_TaskToPublish]],
) -> None:
    """Import into the project every task ``tasks_of`` names that has no link yet."""
    with uow:
        done = uow.publishing.published_task_ids(target.server, ls_project_id)
        todo = [t for t in tasks_of(uow) if t.task_id not in done]
    if not todo:
        return
    port = target.port
    # A crash after Label Studio took a batch but before we recorded it: adopt those tasks.
    in_ls = {} if fresh_project else port.existing_task_ids(ls_project_id)
    adopted = [(t.task_id, in_ls[t.task_id]) for t in todo if t.task_id in in_ls]
    if adopted:
        _record_links(uow, target.server, ls_project_id, replica, adopted)
        log.info("Label Studio project %d: adopted %d tasks", ls_project_id, len(adopted))
    todo = [t for t in todo if t.task_id not in in_ls]
    for start in range(0, len(todo), target.batch_size):
        batch = todo[start : start + target.batch_size]
        items = [_ls_item(kind, t, target.link) for t in batch]
        ls_ids = port.import_tasks(ls_project_id, items, batch_size=target.batch_size)
        pairs = zip([t.task_id for t in batch], ls_ids, strict=True)
        _record_links(uow, target.server, ls_project_id, replica, pairs)
        log.info("%d tasks into Label Studio project %d", len(batch), ls_project_id)


def _record_links(
    uow: UnitOfWork,
    server: str,
    ls_project_id: int,
    replica: int,
    pairs: Iterable[tuple[str, int]],
) -> None:
    links = [
        LabelStudioTaskRow(
            ls_server=server,
            ls_task_id=ls_id,
            ls_project_id=ls_project_id,
            task_id=task_id,
            replica=replica,
        )  # fmt: skip
        for task_id, ls_id in pairs
    ]
    with uow:
        uow.publishing.add_task_links(links)
        uow.commit()


def _ls_item(kind: JobKind, task: _TaskToPublish, link: MediaLink) -> dict[str, Any]:
    data = task_data(
        kind=kind.value,
        media_url=link(task.object_key),
        draft_text=task.draft_text,
        draft_words=task.draft_words,
        kazi_task_id=task.task_id,
    )
    return ls_task(data, task.predictions)
