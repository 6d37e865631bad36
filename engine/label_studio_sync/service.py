"""Take Label Studio annotations in as answers, exactly once (webhooks and reconciliation).

Both paths call ``ingest_annotation``, keyed by Label Studio's annotation id: a webhook and a
later reconciliation of the same annotation make one answer. An annotation the rules do not
allow (an unknown user, a task that has its answers, a second answer by the same worker) is kept
in ``refused_annotations`` with the reason, never silently dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from engine.db.models import RefusedAnnotationRow, TaskRow
from engine.domain.job_stage import JobKind
from engine.domain.labeling_payload import LabelingPayloadError, answer_from_annotation
from engine.jobs.repository import JobRepository
from engine.label_studio_sync.repository import RefusedAnnotationRepository
from engine.publishing.repository import PublishRepository
from engine.publishing.service import LabelStudioPort
from engine.work import service as work
from engine.work.repository import WorkRepository
from engine.workforce.repository import WorkerRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestOutcome:
    status: str  # accepted | reviewed | updated | duplicate | refused | ignored
    answer_id: int | None = None
    reason: str | None = None
    job_id: str | None = None


def _user_id(annotation: dict[str, Any]) -> int | None:
    user = annotation.get("completed_by")
    if isinstance(user, dict):
        user = user.get("id")
    return user if isinstance(user, int) else None


def _refuse(
    session: Session,
    annotation: dict[str, Any],
    ls_project_id: int,
    reason: str,
    task_id: str | None = None,
    worker_id: str | None = None,
) -> IngestOutcome:
    repo = RefusedAnnotationRepository(session)
    if repo.get(int(annotation["id"])) is None:
        repo.add(
            RefusedAnnotationRow(
                ls_annotation_id=int(annotation["id"]),
                ls_project_id=ls_project_id,
                task_id=task_id,
                worker_id=worker_id,
                reason=reason,
                payload=annotation,
            )
        )
    log.info("refused Label Studio annotation %s: %s", annotation.get("id"), reason)
    return IngestOutcome("refused", reason=reason)


def ingest_annotation(
    session: Session,
    ls_project_id: int,
    ls_task_id: int,
    annotation: dict[str, Any],
    settings: work.DistributionSettings,
) -> IngestOutcome:
    """File one annotation as an answer. The caller commits."""
    annotation_id = int(annotation["id"])
    answers = WorkRepository(session)
    existing = answers.answer_by_annotation(annotation_id)
    link = PublishRepository(session).task_link(ls_task_id)
    if existing is not None:
        if link is None:
            return IngestOutcome("duplicate", existing.id)
        task = session.get(TaskRow, link.task_id)
        job = JobRepository(session).get(existing.job_id)
        assert task is not None and job is not None
        try:
            payload = work.check_answer(
                session,
                task.id,
                answer_from_annotation(
                    JobKind(job.kind), annotation.get("result") or [], _image_size(task)
                ),  # fmt: skip
            )
        except (LabelingPayloadError, work.InvalidAnswer):
            return IngestOutcome("duplicate", existing.id)
        if payload != existing.payload:
            existing.payload = payload
            existing.updated_at = datetime.now(UTC)
            return IngestOutcome("updated", existing.id)
        return IngestOutcome("duplicate", existing.id)
    if RefusedAnnotationRepository(session).get(annotation_id) is not None:
        return IngestOutcome("refused", reason="refused earlier")
    if annotation.get("was_cancelled"):
        return IngestOutcome("ignored", reason="the worker skipped the task")
    if link is None or link.ls_project_id != ls_project_id:
        # Not recorded as refused: the task may be mid-publish (its link not committed yet),
        # and the next reconciliation files it then.
        return IngestOutcome("ignored", reason="not a task the engine published (yet)")
    user_id = _user_id(annotation)
    worker = WorkerRepository(session).by_ls_user(user_id) if user_id is not None else None
    project = PublishRepository(session).project_by_ls_id(ls_project_id)
    if project is not None and project.role == "review" and worker is not None:
        return _ingest_review(session, ls_project_id, link.task_id, annotation, worker.id)
    if worker is None:
        return _refuse(
            session, annotation, ls_project_id,
            f"Label Studio user {user_id} is not a Kazi worker", task_id=link.task_id,
        )  # fmt: skip
    task = session.get(TaskRow, link.task_id)
    job = JobRepository(session).get(task.job_id) if task else None
    assert task is not None and job is not None
    try:
        answer = answer_from_annotation(
            JobKind(job.kind), annotation.get("result") or [], _image_size(task)
        )
    except LabelingPayloadError as exc:
        return _refuse(session, annotation, ls_project_id, str(exc), task.id, worker.id)
    lead_time = annotation.get("lead_time")
    try:
        lease = work.lease_for_answer(
            session, worker.id, task.id, link.replica, settings, channel="label_studio"
        )
        result = work.submit(
            session,
            worker.id,
            lease.lease_id,
            answer,
            client_answer_id=f"ls-{annotation_id}",
            time_spent_seconds=float(lead_time) if isinstance(lead_time, int | float) else None,
            source="label_studio",
            ls_annotation_id=annotation_id,
        )
    except work.WorkError as exc:
        # A webhook and a reconciliation racing on one annotation: the other one filed it.
        raced = answers.answer_by_annotation(annotation_id)
        if raced is not None:
            return IngestOutcome("duplicate", raced.id)
        return _refuse(session, annotation, ls_project_id, exc.message, task.id, worker.id)
    return IngestOutcome("accepted", result.answer_id, job_id=result.job_id)


def _ingest_review(
    session: Session,
    ls_project_id: int,
    task_id: str,
    annotation: dict[str, Any],
    reviewer_id: str,
) -> IngestOutcome:
    """A reviewer's annotation in the review project: submitted unchanged it accepts the
    consensus, edited it corrects it."""
    from engine.quality.service import QualitySettings, review_lease_for_task, submit_review

    task = session.get(TaskRow, task_id)
    job = JobRepository(session).get(task.job_id) if task else None
    assert task is not None and job is not None
    try:
        answer = answer_from_annotation(
            JobKind(job.kind), annotation.get("result") or [], _image_size(task)
        )
        lease_id = review_lease_for_task(
            session, reviewer_id, task_id, QualitySettings(), channel="label_studio"
        )
        review_id = submit_review(
            session, reviewer_id, lease_id, "correct", answer,
            client_review_id=f"ls-{annotation['id']}", source="label_studio",
            time_spent_seconds=annotation.get("lead_time"),
        )  # fmt: skip
    except (LabelingPayloadError, work.WorkError) as exc:
        message = exc.message if isinstance(exc, work.WorkError) else str(exc)
        return _refuse(session, annotation, ls_project_id, message, task_id, reviewer_id)
    return IngestOutcome("reviewed", review_id, job_id=job.id)


def _image_size(task: TaskRow) -> tuple[int, int] | None:
    return (task.box_w, task.box_h) if task.box_w and task.box_h else None


def ingest_in_own_transaction(
    sessions: sessionmaker[Session],
    ls_project_id: int,
    ls_task_id: int,
    annotation: dict[str, Any],
    settings: work.DistributionSettings,
) -> IngestOutcome:
    with sessions() as session:
        try:
            outcome = ingest_annotation(session, ls_project_id, ls_task_id, annotation, settings)
            session.commit()
            return outcome
        except Exception:
            session.rollback()
            raise


@dataclass
class ReconcileReport:
    projects: int = 0
    seen: int = 0
    accepted: int = 0
    refused: int = 0
    jobs_with_new_answers: set[str] = field(default_factory=set)


def reconcile(
    sessions: sessionmaker[Session],
    port: LabelStudioPort,
    settings: work.DistributionSettings,
    job_id: str | None = None,
) -> ReconcileReport:
    """Pull every annotation of the open jobs' projects and file what the webhooks missed."""
    with sessions() as session:
        repo = PublishRepository(session)
        rows = repo.projects_of_job(job_id) if job_id else repo.projects_of_open_jobs()
        projects = [r.ls_project_id for r in rows if r.role == "work"]
    report = ReconcileReport(projects=len(projects))
    for ls_project_id in projects:
        for annotation in port.annotations(ls_project_id):
            report.seen += 1
            outcome = ingest_in_own_transaction(
                sessions, ls_project_id, int(annotation["task"]), annotation, settings
            )
            if outcome.status == "accepted":
                report.accepted += 1
                if outcome.job_id:
                    report.jobs_with_new_answers.add(outcome.job_id)
            elif outcome.status == "refused" and outcome.reason != "refused earlier":
                report.refused += 1
    return report
