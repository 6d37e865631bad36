"""All SQL the assembly stage needs: final results by source, deliverables."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db.models import (
    AnswerRow,
    AnswerScoreRow,
    DeliverableRow,
    ReviewRow,
    SourceMediaRow,
    TaskResultRow,
    TaskRow,
    WorkerRow,
)


class AssemblyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def sources(self, job_id: str) -> Sequence[SourceMediaRow]:
        return self.session.scalars(
            select(SourceMediaRow)
            .where(SourceMediaRow.job_id == job_id)
            .order_by(SourceMediaRow.seq)
        ).all()

    def tasks_of_source(self, source_id: str) -> Sequence[TaskRow]:
        return self.session.scalars(
            select(TaskRow).where(TaskRow.source_id == source_id).order_by(TaskRow.seq)
        ).all()

    def results(self, job_id: str) -> dict[str, TaskResultRow]:
        return {
            r.task_id: r
            for r in self.session.scalars(
                select(TaskResultRow).where(TaskResultRow.job_id == job_id)
            )
        }

    def reviews(self, job_id: str) -> Sequence[ReviewRow]:
        return self.session.scalars(select(ReviewRow).where(ReviewRow.job_id == job_id)).all()

    def scores(self, job_id: str) -> Sequence[AnswerScoreRow]:
        return self.session.scalars(
            select(AnswerScoreRow).where(AnswerScoreRow.job_id == job_id)
        ).all()

    def answers(self, job_id: str) -> Sequence[AnswerRow]:
        return self.session.scalars(select(AnswerRow).where(AnswerRow.job_id == job_id)).all()

    def worker_handles(self, worker_ids: Sequence[str]) -> dict[str, str]:
        if not worker_ids:
            return {}
        return dict(
            self.session.execute(
                select(WorkerRow.id, WorkerRow.handle).where(WorkerRow.id.in_(list(worker_ids)))
            ).all()
        )

    def deliverables(self, job_id: str) -> Sequence[DeliverableRow]:
        return self.session.scalars(
            select(DeliverableRow)
            .where(DeliverableRow.job_id == job_id)
            .order_by(DeliverableRow.name)
        ).all()

    def put_deliverable(self, row: DeliverableRow) -> None:
        existing = self.session.scalar(
            select(DeliverableRow).where(
                DeliverableRow.job_id == row.job_id, DeliverableRow.name == row.name
            )
        )
        if existing is None:
            self.session.add(row)
        else:
            for field in ("kind", "content_type", "object_key", "size_bytes", "sha256"):
                setattr(existing, field, getattr(row, field))
        self.session.flush()
