"""Take Label Studio annotations in as answers, exactly once (webhooks and reconciliation).

Both paths call ``ingest_annotation``, keyed by Label Studio's annotation id: a webhook and a
later reconciliation of the same annotation make one answer. An annotation the rules do not
allow (an unknown user, a task that has its answers, a second answer by the same worker) is kept
in ``refused_annotations`` with the reason, never silently dropped. An accepted answer or review
writes the quality triggers' next step (scoring, finishing review) in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from engine.db.models import AnswerRow, LabelStudioTaskRow, RefusedAnnotationRow, TaskRow
from engine.domain.job_stage import JobKind
from engine.domain.labeling_payload import LabelingPayloadError, answer_from_annotation
from engine.publishing.service import LabelStudioPort
from engine.quality import service as quality
from engine.quality.triggers import after_answer, after_review
from engine.unit_of_work import UnitOfWork
from engine.work import service as work

log = logging.getLogger(__name__)

REFUSED_EARLIER = "refused earlier"
CHANNEL = "label_studio"


@dataclass(frozen=True)
class IngestOutcome:
    status: str  # accepted | reviewed | updated | duplicate | refused | ignored
    answer_id: int | None = None
    reason: str | None = None
    job_id: str | None = None


@dataclass(frozen=True)
class WebhookAnnotation:
    """An annotation as a webhook names it (of the configured Label Studio server)."""

    ls_project_id: int
    ls_task_id: int
    annotation: dict[str, Any]


class AnswerDesk(Protocol):
    """Where an annotation is filed: the worker and review APIs' own rules. Each raises
    ``work.WorkError`` to refuse."""

    def normalize(
        self, uow: UnitOfWork, task_id: str, answer: dict[str, Any]
    ) -> dict[str, Any]: ...

    def file_answer(
        self, uow: UnitOfWork, worker_id: str, link: LabelStudioTaskRow, answer: dict[str, Any],
        annotation_id: int, lead_time: float | None, settings: work.DistributionSettings,
    ) -> work.SubmitResult: ...  # fmt: skip

    def file_review(
        self, uow: UnitOfWork, reviewer_id: str, task_id: str, answer: dict[str, Any],
        annotation_id: int, lead_time: float | None,
    ) -> int: ...  # fmt: skip


class EngineDesk:
    """The engine's distribution and review use cases, on the ``label_studio`` channel."""

    def normalize(self, uow: UnitOfWork, task_id: str, answer: dict[str, Any]) -> dict[str, Any]:
        return work.check_answer(uow, task_id, answer)

    def file_answer(
        self, uow: UnitOfWork, worker_id: str, link: LabelStudioTaskRow, answer: dict[str, Any],
        annotation_id: int, lead_time: float | None, settings: work.DistributionSettings,
    ) -> work.SubmitResult:  # fmt: skip
        # The lease the worker holds on the task (a start link made it), else a free slot.
        lease = work.lease_for_answer(
            uow, worker_id, link.task_id, link.replica, settings, channel=CHANNEL
        )
        return work.submit(
            uow, worker_id, lease.lease_id, answer,
            # With the task, like reviews: a worker answers a task once, so the same key again
            # is a replay, while a reset server's reused annotation id names another task.
            client_answer_id=f"ls-{link.task_id}-{annotation_id}",
            time_spent_seconds=lead_time, source=CHANNEL, ls_annotation_id=annotation_id,
        )  # fmt: skip

    def file_review(
        self, uow: UnitOfWork, reviewer_id: str, task_id: str, answer: dict[str, Any],
        annotation_id: int, lead_time: float | None,
    ) -> int:  # fmt: skip
        # Submitted unchanged the annotation equals the consensus: the review accepts it.
        lease_id = quality.review_lease_for_task(
            uow, reviewer_id, task_id, quality.QualitySettings(), channel=CHANNEL
        )
        return quality.submit_review(
            uow, reviewer_id, lease_id, "correct", answer,
            # With the task: another server's annotation of the same id is another task's.
            client_review_id=f"ls-{task_id}-{annotation_id}",
            source=CHANNEL, time_spent_seconds=lead_time,
        )  # fmt: skip


ENGINE_DESK = EngineDesk()


def ingest_annotation(
    uow: UnitOfWork,
    server: str,
    ls_project_id: int,
    ls_task_id: int,
    annotation: dict[str, Any],
    settings: work.DistributionSettings,
    desk: AnswerDesk = ENGINE_DESK,
) -> IngestOutcome:
    """File one annotation of Label Studio ``server`` as an answer (or a review, in a review
    project). The caller commits."""
    annotation_id = int(annotation["id"])
    link = uow.publishing.task_link(server, ls_task_id)
    existing = uow.refused_annotations.answer_for(annotation_id, link.task_id) if link else None
    if existing is not None:
        return _update_answer(uow, existing, link, annotation, desk)
    refused = uow.refused_annotations.get(server, annotation_id)
    if refused is not None and not _left_by_a_reset_server(refused, link):
        return IngestOutcome("refused", reason=REFUSED_EARLIER)
    if annotation.get("was_cancelled"):
        return IngestOutcome("ignored", reason="the worker skipped the task")
    task = uow.publishing.task(link.task_id) if link is not None else None
    job = uow.jobs.get(task.job_id) if task is not None else None
    if link is None or link.ls_project_id != ls_project_id or task is None or job is None:
        # Not recorded as refused: the task may be mid-publish (its link not committed yet),
        # and the next reconciliation files it then.
        return IngestOutcome("ignored", reason="not a task the engine published (yet)")
    user_id = _user_id(annotation)
    worker = uow.workers.by_ls_user(server, user_id) if user_id is not None else None
    if worker is None:
        return _refuse(
            uow, annotation, server, ls_project_id,
            f"Label Studio user {user_id} is not a Kazi worker", task_id=task.id,
        )  # fmt: skip
    try:
        answer = answer_from_annotation(
            JobKind(job.kind), annotation.get("result") or [], _image_size(task)
        )
    except LabelingPayloadError as exc:
        return _refuse(uow, annotation, server, ls_project_id, str(exc), task.id, worker.id)
    lead_time = _lead_time(annotation)
    project = uow.publishing.project_by_ls_id(server, ls_project_id)
    if project is not None and project.role == "review":
        try:
            review_id = desk.file_review(uow, worker.id, task.id, answer, annotation_id, lead_time)
        except work.WorkError as exc:
            return _refuse(uow, annotation, server, ls_project_id, exc.message, task.id, worker.id)
        after_review(uow, job.id)
        return IngestOutcome("reviewed", review_id, job_id=job.id)
    try:
        result = desk.file_answer(uow, worker.id, link, answer, annotation_id, lead_time, settings)
    except work.WorkError as exc:
        # A webhook and a reconciliation racing on one annotation: the other one filed it.
        raced = uow.refused_annotations.answer_for(annotation_id, task.id)
        if raced is not None:
            return IngestOutcome("duplicate", raced.id)
        return _refuse(uow, annotation, server, ls_project_id, exc.message, task.id, worker.id)
    after_answer(uow, result.job_id)
    return IngestOutcome("accepted", result.answer_id, job_id=result.job_id)


def ingest_annotations(
    uow: UnitOfWork,
    server: str,
    annotations: Sequence[WebhookAnnotation],
    settings: work.DistributionSettings,
    desk: AnswerDesk = ENGINE_DESK,
) -> list[IngestOutcome]:
    """A webhook's annotations, in the request's unit of work."""
    return [
        ingest_annotation(
            uow, server, a.ls_project_id, a.ls_task_id, a.annotation, settings, desk
        )  # fmt: skip
        for a in annotations
    ]


def _update_answer(
    uow: UnitOfWork,
    existing: AnswerRow,
    link: LabelStudioTaskRow | None,
    annotation: dict[str, Any],
    desk: AnswerDesk,
) -> IngestOutcome:
    """An annotation filed before: an edit in Label Studio updates the answer's payload."""
    task = uow.publishing.task(link.task_id) if link is not None else None
    job = uow.jobs.get(existing.job_id)
    if task is None or job is None:
        return IngestOutcome("duplicate", existing.id)
    try:
        answer = answer_from_annotation(
            JobKind(job.kind), annotation.get("result") or [], _image_size(task)
        )
        payload = desk.normalize(uow, task.id, answer)
    except (LabelingPayloadError, work.WorkError):
        return IngestOutcome("duplicate", existing.id)
    if payload == existing.payload:
        return IngestOutcome("duplicate", existing.id)
    existing.payload = payload
    existing.updated_at = datetime.now(UTC)
    return IngestOutcome("updated", existing.id)


def _refuse(
    uow: UnitOfWork,
    annotation: dict[str, Any],
    server: str,
    ls_project_id: int,
    reason: str,
    task_id: str | None = None,
    worker_id: str | None = None,
) -> IngestOutcome:
    annotation_id = int(annotation["id"])
    earlier = uow.refused_annotations.get(server, annotation_id)
    if earlier is None:
        uow.refused_annotations.add(
            RefusedAnnotationRow(
                ls_server=server,
                ls_annotation_id=annotation_id,
                ls_project_id=ls_project_id,
                task_id=task_id,
                worker_id=worker_id,
                reason=reason,
                payload=annotation,
            )
        )
    elif task_id is not None and earlier.task_id not in (None, task_id):
        # A reset server's leftover under the same id: this annotation's reason replaces it.
        earlier.ls_project_id, earlier.task_id, earlier.worker_id = (
            ls_project_id,
            task_id,
            worker_id,
        )
        earlier.reason, earlier.payload = reason, annotation
    log.info("refused Label Studio annotation %s: %s", annotation_id, reason)
    return IngestOutcome("refused", reason=reason)


def _left_by_a_reset_server(refused: RefusedAnnotationRow, link: LabelStudioTaskRow | None) -> bool:
    """A refusal recorded for another engine task than this annotation's: the id was handed
    out again by a server reset at the same address (an annotation never changes task)."""
    return link is not None and refused.task_id is not None and refused.task_id != link.task_id


def _user_id(annotation: dict[str, Any]) -> int | None:
    user = annotation.get("completed_by")
    if isinstance(user, dict):
        user = user.get("id")
    return user if isinstance(user, int) else None


def _lead_time(annotation: dict[str, Any]) -> float | None:
    lead_time = annotation.get("lead_time")
    if isinstance(lead_time, bool) or not isinstance(lead_time, int | float):
        return None
    return float(lead_time)


def _image_size(task: TaskRow) -> tuple[int, int] | None:
    return (task.box_w, task.box_h) if task.box_w and task.box_h else None


# -- reconciliation ----------------------------------------------------------------------------


@dataclass
class ReconcileReport:
    projects: int = 0
    seen: int = 0
    accepted: int = 0
    reviewed: int = 0
    refused: int = 0


def reconcile(
    uow: UnitOfWork,
    port: LabelStudioPort,
    server: str,
    settings: work.DistributionSettings,
    job_id: str | None = None,
    desk: AnswerDesk = ENGINE_DESK,
) -> ReconcileReport:
    """Pull every annotation of the projects taking annotations (or of one job) and file what
    the webhooks missed. Staged: Label Studio is read outside any transaction, and each
    annotation is filed in a short transaction of its own."""
    with uow:
        repo = uow.publishing
        rows = (
            repo.projects_of_job(job_id, server)
            if job_id
            else repo.projects_taking_annotations(server)
        )
        projects = [r.ls_project_id for r in rows]
    report = ReconcileReport(projects=len(projects))
    for ls_project_id in projects:
        for annotation in port.annotations(ls_project_id):
            report.seen += 1
            with uow:
                outcome = ingest_annotation(
                    uow, server, ls_project_id, int(annotation["task"]), annotation, settings,
                    desk,
                )  # fmt: skip
                uow.commit()
            if outcome.status == "accepted":
                report.accepted += 1
            elif outcome.status == "reviewed":
                report.reviewed += 1
            elif outcome.status == "refused" and outcome.reason != REFUSED_EARLIER:
                report.refused += 1
    return report
