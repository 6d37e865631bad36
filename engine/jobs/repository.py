"""All SQL for jobs, their source media, tasks and stage history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.db.models import JobRow, JobStageEventRow, SourceMediaRow, TaskRow


class JobRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # Jobs -------------------------------------------------------------------------------
    def add(self, job: JobRow) -> None:
        self.session.add(job)
        self.session.flush()

    def get(self, job_id: str, *, for_update: bool = False) -> JobRow | None:
        if not for_update:
            # The session's identity map answers repeated reads without a round trip.
            return self.session.get(JobRow, job_id)
        return self.session.scalar(
            select(JobRow).where(JobRow.id == job_id).with_for_update(key_share=True)
        )

    def get_for_client(self, job_id: str, client_id: str) -> JobRow | None:
        return self.session.scalar(
            select(JobRow).where(JobRow.id == job_id, JobRow.client_id == client_id)
        )

    def page_for_client(self, client_id: str, limit: int, offset: int) -> Sequence[JobRow]:
        return self.session.scalars(
            select(JobRow)
            .where(JobRow.client_id == client_id)
            .order_by(JobRow.created_at.desc(), JobRow.id)
            .limit(limit)
            .offset(offset)
        ).all()

    def count_for_client(self, client_id: str) -> int:
        return (
            self.session.scalar(
                select(func.count()).select_from(JobRow).where(JobRow.client_id == client_id)
            )
            or 0
        )

    def in_stage(self, stage: str) -> Sequence[JobRow]:
        return self.session.scalars(select(JobRow).where(JobRow.stage == stage)).all()

    def delete(self, job: JobRow) -> None:
        self.session.delete(job)
        self.session.flush()

    # Stage history ----------------------------------------------------------------------
    def add_stage_event(self, job_id: str, stage: str, detail: str | None = None) -> None:
        self.session.add(JobStageEventRow(job_id=job_id, stage=stage, detail=detail))

    def stage_history(self, job_id: str) -> Sequence[JobStageEventRow]:
        return self.session.scalars(
            select(JobStageEventRow)
            .where(JobStageEventRow.job_id == job_id)
            .order_by(JobStageEventRow.at, JobStageEventRow.id)
        ).all()

    # Sources ----------------------------------------------------------------------------
    def add_source(self, source: SourceMediaRow) -> None:
        self.session.add(source)
        self.session.flush()

    def sources(self, job_id: str) -> Sequence[SourceMediaRow]:
        return self.session.scalars(
            select(SourceMediaRow)
            .where(SourceMediaRow.job_id == job_id)
            .order_by(SourceMediaRow.seq)
        ).all()

    def get_source(self, source_id: str, *, for_update: bool = False) -> SourceMediaRow | None:
        return self.session.get(SourceMediaRow, source_id, with_for_update=for_update)

    # Tasks ------------------------------------------------------------------------------
    def task_seqs(self, source_id: str) -> set[int]:
        return set(self.session.scalars(select(TaskRow.seq).where(TaskRow.source_id == source_id)))

    def add_tasks(self, tasks: Sequence[TaskRow]) -> None:
        self.session.add_all(tasks)
        self.session.flush()

    def set_task_statuses(self, statuses: Mapping[str, str]) -> None:
        """Set each task's status (task id -> status), one UPDATE per status."""
        by_status: dict[str, list[str]] = {}
        for task_id, status in statuses.items():
            by_status.setdefault(status, []).append(task_id)
        for status, task_ids in by_status.items():
            self.session.execute(
                update(TaskRow).where(TaskRow.id.in_(task_ids)).values(status=status),
                execution_options={"synchronize_session": "fetch"},
            )

    def task_counts(self, job_id: str) -> dict[str, int]:
        rows = self.session.execute(
            select(TaskRow.status, func.count())
            .where(TaskRow.job_id == job_id)
            .group_by(TaskRow.status)
        ).all()
        return {status: count for status, count in rows}

    def tasks_page(
        self, job_id: str, limit: int, offset: int
    ) -> Sequence[tuple[TaskRow, SourceMediaRow]]:
        rows = self.session.execute(
            select(TaskRow, SourceMediaRow)
            .join(SourceMediaRow, TaskRow.source_id == SourceMediaRow.id)
            .where(TaskRow.job_id == job_id)
            .order_by(SourceMediaRow.seq, TaskRow.seq)
            .limit(limit)
            .offset(offset)
        ).all()
        return [(task, source) for task, source in rows]

    def count_tasks(self, job_id: str) -> int:
        return (
            self.session.scalar(
                select(func.count()).select_from(TaskRow).where(TaskRow.job_id == job_id)
            )
            or 0
        )
