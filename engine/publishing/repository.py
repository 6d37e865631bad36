"""All SQL for Label Studio project and task mappings."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
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

    def projects_of_open_jobs(self) -> Sequence[LabelStudioProjectRow]:
        return self.session.scalars(
            select(LabelStudioProjectRow)
            .join(JobRow, JobRow.id == LabelStudioProjectRow.job_id)
            .where(JobRow.stage == JobStage.LABELING.value)
        ).all()

    def add_project(self, row: LabelStudioProjectRow) -> None:
        self.session.add(row)
        self.session.flush()

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

    def publishable_tasks(self, job_id: str) -> Sequence[TaskRow]:
        """Every task workers answer, gold included (gold looks like any other task)."""
        return self.session.scalars(
            select(TaskRow)
            .where(TaskRow.job_id == job_id, TaskRow.status != "failed")
            .order_by(TaskRow.source_id, TaskRow.seq)
        ).all()
