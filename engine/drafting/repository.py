"""All SQL for machine drafts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db.models import DraftRow, TaskRow


class DraftRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def tasks_without_draft(self, job_id: str, model_version: str) -> Sequence[TaskRow]:
        drafted = select(DraftRow.task_id).where(DraftRow.model_version == model_version)
        return self.session.scalars(
            select(TaskRow)
            .where(
                TaskRow.job_id == job_id,
                TaskRow.kind == "audio_segment",
                TaskRow.status != "failed",
                TaskRow.id.not_in(drafted),
            )
            .order_by(TaskRow.source_id, TaskRow.seq)
        ).all()

    def tasks(self, task_ids: Sequence[str]) -> Sequence[TaskRow]:
        return self.session.scalars(select(TaskRow).where(TaskRow.id.in_(task_ids))).all()

    def existing(self, task_ids: Sequence[str], model_version: str) -> set[str]:
        return set(
            self.session.scalars(
                select(DraftRow.task_id).where(
                    DraftRow.task_id.in_(task_ids), DraftRow.model_version == model_version
                )
            )
        )

    def add(self, draft: DraftRow) -> None:
        self.session.add(draft)

    def latest_for_task(self, task_id: str) -> DraftRow | None:
        return self.session.scalar(
            select(DraftRow)
            .where(DraftRow.task_id == task_id)
            .order_by(DraftRow.created_at.desc(), DraftRow.id.desc())
            .limit(1)
        )

    def for_job(
        self, job_id: str, model_version: str | None = None
    ) -> Sequence[tuple[DraftRow, TaskRow]]:
        stmt = (
            select(DraftRow, TaskRow)
            .join(TaskRow, DraftRow.task_id == TaskRow.id)
            .where(TaskRow.job_id == job_id)
        )
        if model_version is not None:
            stmt = stmt.where(DraftRow.model_version == model_version)
        rows = self.session.execute(
            stmt.order_by(TaskRow.source_id, TaskRow.seq, DraftRow.id)
        ).all()
        return [(draft, task) for draft, task in rows]

    def latest_per_task(self, job_id: str) -> dict[str, DraftRow]:
        """Each task's newest draft (the latest model version run on it)."""
        latest: dict[str, DraftRow] = {}
        for row in self.session.scalars(
            select(DraftRow)
            .join(TaskRow, DraftRow.task_id == TaskRow.id)
            .where(TaskRow.job_id == job_id)
            .order_by(DraftRow.created_at, DraftRow.id)
        ):
            latest[row.task_id] = row  # later rows win
        return latest
