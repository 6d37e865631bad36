"""All SQL for Label Studio project and task mappings."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import and_, delete, or_, select
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

log = logging.getLogger(__name__)


class PublishRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def project(
        self, job_id: str, role: str, replica: int, server: str
    ) -> LabelStudioProjectRow | None:
        return self.session.scalar(
            select(LabelStudioProjectRow).where(
                LabelStudioProjectRow.ls_server == server,
                LabelStudioProjectRow.job_id == job_id,
                LabelStudioProjectRow.role == role,
                LabelStudioProjectRow.replica == replica,
            )
        )

    def project_by_ls_id(self, server: str, ls_project_id: int) -> LabelStudioProjectRow | None:
        return self.session.get(LabelStudioProjectRow, (server, ls_project_id))

    def projects_of_job(self, job_id: str, server: str) -> Sequence[LabelStudioProjectRow]:
        return self.session.scalars(
            select(LabelStudioProjectRow)
            .where(
                LabelStudioProjectRow.job_id == job_id, LabelStudioProjectRow.ls_server == server
            )
            .order_by(LabelStudioProjectRow.role, LabelStudioProjectRow.replica)
        ).all()

    def projects_taking_annotations(self, server: str) -> Sequence[LabelStudioProjectRow]:
        """Work projects of jobs in labeling and review projects of jobs in review."""
        return self.session.scalars(
            select(LabelStudioProjectRow)
            .join(JobRow, JobRow.id == LabelStudioProjectRow.job_id)
            .where(
                LabelStudioProjectRow.ls_server == server,
                or_(
                    and_(
                        LabelStudioProjectRow.role == "work",
                        JobRow.stage == JobStage.LABELING.value,
                    ),
                    and_(
                        LabelStudioProjectRow.role == "review",
                        JobRow.stage == JobStage.REVIEWING.value,
                    ),
                ),
            )
            .order_by(LabelStudioProjectRow.ls_project_id)
        ).all()

    def record_project(
        self, job_id: str, role: str, replica: int, server: str, ls_project_id: int
    ) -> int:
        """Record the job's project for (role, replica) on ``server`` unless one is recorded
        already; returns the Label Studio id recorded for it (ours, or the one a concurrent
        publisher wrote). Label Studio has just made (or found by title) this project for this
        job, so a row giving its id to another job is a leftover of a server that was reset at
        the same address (ids from 1 again): that row and its task links are dropped."""
        stale = self.session.get(LabelStudioProjectRow, (server, ls_project_id))
        mine = (job_id, role, replica)
        if stale is not None and (stale.job_id, stale.role, stale.replica) != mine:
            log.warning("Label Studio %s project %d was job %s's: a reset server; forgetting it",
                        server, ls_project_id, stale.job_id)  # fmt: skip
            self.session.execute(
                delete(LabelStudioTaskRow).where(
                    LabelStudioTaskRow.ls_server == server,
                    LabelStudioTaskRow.ls_project_id == ls_project_id,
                )
            )
            self.session.delete(stale)
            self.session.flush()
        values = {"ls_server": server, "ls_project_id": ls_project_id, "job_id": job_id,
                  "role": role, "replica": replica}  # fmt: skip
        postgres = self.session.get_bind().dialect.name == "postgresql"
        insert = (pg_insert if postgres else sqlite_insert)(LabelStudioProjectRow)
        self.session.execute(insert.values(**values).on_conflict_do_nothing())
        row = self.project(job_id, role, replica, server)
        assert row is not None
        return row.ls_project_id

    def published_task_ids(self, server: str, ls_project_id: int) -> set[str]:
        return set(
            self.session.scalars(
                select(LabelStudioTaskRow.task_id).where(
                    LabelStudioTaskRow.ls_server == server,
                    LabelStudioTaskRow.ls_project_id == ls_project_id,
                )
            )
        )

    def add_task_links(self, rows: Sequence[LabelStudioTaskRow]) -> None:
        """Record links Label Studio just handed out: a link of the same server and task id to
        another project or task is a leftover of a reset server, and is replaced."""
        for row in rows:
            stale = self.session.get(LabelStudioTaskRow, (row.ls_server, row.ls_task_id))
            if stale is not None:
                log.warning("Label Studio %s task %d was linked to task %s: a reset server",
                            row.ls_server, row.ls_task_id, stale.task_id)  # fmt: skip
                self.session.delete(stale)
        self.session.flush()
        self.session.add_all(rows)
        self.session.flush()

    def task_link(self, server: str, ls_task_id: int) -> LabelStudioTaskRow | None:
        return self.session.get(LabelStudioTaskRow, (server, ls_task_id))

    def ls_task_for(self, task_id: str, replica: int, server: str) -> LabelStudioTaskRow | None:
        return self.session.scalar(
            select(LabelStudioTaskRow).where(
                LabelStudioTaskRow.ls_server == server,
                LabelStudioTaskRow.task_id == task_id,
                LabelStudioTaskRow.replica == replica,
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
