"""All SQL for Label Studio project and task mappings."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.db.models import (
    JobRow,
    LabelStudioProjectRow,
    LabelStudioTaskRow,
    TaskRow,
)
from engine.domain.job_stage import JobStage


class PublishRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def project(self, job_id: str, role: str, replica: int) -> LabelStudioProjectRow | None:
        return self.session.scalar(
            select(LabelStudioProjectRow).where(
                LabelStudioProjectRow.job_id == job_id,
                LabelStudioProjectRow.role == role,
                LabelStudioProjectRow.replica == replica,
            )
        )

    def project_by_ls_id(self, ls_project_id: int) -> LabelStudioProjectRow | None:
        return self.session.get(LabelStudioProjectRow, ls_project_id)

    def projects_of_job(self, job_id: str) -> Sequence[LabelStudioProjectRow]:
        return self.session.scalars(
            select(LabelStudioProjectRow)
            .where(LabelStudioProjectRow.job_id == job_id)
            .order_by(LabelStudioProjectRow.role, LabelStudioProjectRow.replica)
        ).all()

    def projects_taking_annotations(self) -> Sequence[LabelStudioProjectRow]:
        """Work projects of jobs in labeling and review projects of jobs in review."""
        return self.session.scalars(
            select(LabelStudioProjectRow)
            .join(JobRow, JobRow.id == LabelStudioProjectRow.job_id)
            .where(
                or_(
                    and_(
                        LabelStudioProjectRow.role == "work",
                        JobRow.stage == JobStage.LABELING.value,
                    ),
                    and_(
                        LabelStudioProjectRow.role == "review",
                        JobRow.stage == JobStage.REVIEWING.value,
                    ),
                )
            )
            .order_by(LabelStudioProjectRow.ls_project_id)
        ).all()

    def record_project(self, job_id: str, role: str, replica: int, ls_project_id: int) -> int:
        """Record the job's project for (role, replica) unless one is recorded already; returns
        the Label Studio id recorded for it (ours, or the one a concurrent publisher wrote)."""
        values = {"ls_project_id": ls_project_id, "job_id": job_id, "role": role,
                  "replica": replica}  # fmt: skip
        postgres = self.session.get_bind().dialect.name == "postgresql"
        insert = (pg_insert if postgres else sqlite_insert)(LabelStudioProjectRow)
        self.session.execute(insert.values(**values).on_conflict_do_nothing())
        row = self.project(job_id, role, replica)
        assert row is not None
        return row.ls_project_id

    def published_task_ids(self, ls_project_id: int) -> set[str]:
        return set(
            self.session.scalars(
                select(LabelStudioTaskRow.task_id).where(
                    LabelStudioTaskRow.ls_project_id == ls_project_id
                )
            )
        )

    def add_task_links(self, rows: Sequence[LabelStudioTaskRow]) -> None:
        self.session.add_all(rows)
        self.session.flush()

    def task_link(self, ls_task_id: int) -> LabelStudioTaskRow | None:
        return self.session.get(LabelStudioTaskRow, ls_task_id)

    def ls_task_for(self, task_id: str, replica: int) -> LabelStudioTaskRow | None:
        return self.session.scalar(
            select(LabelStudioTaskRow).where(
                LabelStudioTaskRow.task_id == task_id, LabelStudioTaskRow.replica == replica
            )
        )

    def task(self, task_id: str) -> TaskRow | None:
        return self.session.get(TaskRow, task_id)

    def publishable_tasks(self, job_id: str) -> Sequence[TaskRow]:
        """Every task workers answer, gold included (gold looks like any other task)."""
        return self.session.scalars(
            select(TaskRow)
            .where(TaskRow.job_id == job_id, TaskRow.status != "failed")
            .order_by(TaskRow.source_id, TaskRow.seq)
        ).all()
