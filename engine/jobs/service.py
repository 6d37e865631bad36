"""Job read models and stage transitions."""

from __future__ import annotations

from collections.abc import Callable

from engine.billing.service import settle_failed_job
from engine.db.models import JobRow, SourceMediaRow, TaskRow
from engine.domain.job_stage import JobStage, check_transition
from engine.jobs.errors import JobNotFound
from engine.jobs.repository import JobRepository
from engine.pipeline.outbox import route_stage_entered
from engine.unit_of_work import UnitOfWork
from schemas.jobs import (
    JobDetail,
    JobPage,
    JobSpec,
    JobSummary,
    SourceStatus,
    StageEvent,
    TaskPage,
    TaskView,
)

MediaUrl = Callable[[str], str]


def _summary(job: JobRow) -> JobSummary:
    return JobSummary(
        id=job.id,
        kind=job.kind,  # type: ignore[arg-type]
        stage=job.stage,
        failure_reason=job.failure_reason,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


def _source_status(source: SourceMediaRow) -> SourceStatus:
    return SourceStatus(
        id=source.id,
        filename=source.filename,
        media_type=source.media_type,
        sha256=source.sha256,
        size_bytes=source.size_bytes,
        status=source.status,
        duration_seconds=source.duration_seconds,
        width=source.width,
        height=source.height,
        failure_reason=source.failure_reason,
    )


def _owned_job(repo: JobRepository, client_id: str, job_id: str) -> JobRow:
    job = repo.get_for_client(job_id, client_id)
    if job is None:
        # Another client's job is reported exactly like a missing one.
        raise JobNotFound(f"job {job_id} not found")
    return job


def get_job_detail(uow: UnitOfWork, client_id: str, job_id: str) -> JobDetail:
    repo = uow.jobs
    job = _owned_job(repo, client_id, job_id)
    counts = repo.task_counts(job.id)
    summary = _summary(job)
    return JobDetail(
        **summary.model_dump(),
        spec=JobSpec.model_validate(job.spec),
        sources=[_source_status(s) for s in repo.sources(job.id)],
        task_counts=counts,
        tasks_total=sum(counts.values()),
        stage_history=[
            StageEvent(stage=e.stage, at=e.at, detail=e.detail) for e in repo.stage_history(job.id)
        ],
    )


def list_jobs(uow: UnitOfWork, client_id: str, limit: int, offset: int) -> JobPage:
    repo = uow.jobs
    return JobPage(
        items=[_summary(job) for job in repo.page_for_client(client_id, limit, offset)],
        total=repo.count_for_client(client_id),
        limit=limit,
        offset=offset,
    )


def _task_view(task: TaskRow, source: SourceMediaRow, media_url: MediaUrl | None) -> TaskView:
    box = None
    if task.box_x is not None:
        box = [task.box_x, task.box_y or 0, task.box_w or 0, task.box_h or 0]
    return TaskView(
        id=task.id,
        kind=task.kind,
        source=source.id,
        source_filename=source.filename,
        seq=task.seq,
        status=task.status,
        start=task.start_seconds,
        end=task.end_seconds,
        box=box,
        media_url=media_url(task.object_key) if media_url else None,
        lowres_media_url=(
            media_url(task.lowres_object_key) if media_url and task.lowres_object_key else None
        ),
    )


def list_tasks(
    uow: UnitOfWork,
    client_id: str,
    job_id: str,
    limit: int,
    offset: int,
    media_url: MediaUrl | None = None,
) -> TaskPage:
    repo = uow.jobs
    job = _owned_job(repo, client_id, job_id)
    rows = repo.tasks_page(job.id, limit, offset)
    return TaskPage(
        items=[_task_view(task, source, media_url) for task, source in rows],
        total=repo.count_tasks(job.id),
        limit=limit,
        offset=offset,
    )


def move_job_to(uow: UnitOfWork, job: JobRow, stage: JobStage, detail: str | None = None) -> None:
    """Record a stage transition with its timestamp and, in the same transaction, the next
    pipeline step the routing table names for it; refuses transitions the pipeline forbids."""
    current = JobStage(job.stage)
    check_transition(current, stage)
    job.stage = stage.value
    if stage is JobStage.FAILED:
        job.failure_reason = detail
        # A paid job pays what its workers earned so far; the rest of its reservation goes back.
        settle_failed_job(uow, job.id)
    uow.jobs.add_stage_event(job.id, stage.value, detail)
    if stage is not current:  # X -> X is a redelivered task picking the job up again
        route_stage_entered(uow, job, stage)
