"""All SQL for Label Studio annotations: those the engine refused, and the answers filed from
them. An annotation id is Label Studio's, unique on its server only."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db.models import AnswerRow, RefusedAnnotationRow


class RefusedAnnotationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, server: str, ls_annotation_id: int) -> RefusedAnnotationRow | None:
        return self.session.get(RefusedAnnotationRow, (server, ls_annotation_id))

    def add(self, row: RefusedAnnotationRow) -> None:
        self.session.add(row)
        self.session.flush()

    def answer_for(self, ls_annotation_id: int, task_id: str) -> AnswerRow | None:
        """The answer filed from this annotation of the engine task it was made on (the task's
        link is the server's: another server's annotation with the same id is another task)."""
        return self.session.scalar(
            select(AnswerRow).where(
                AnswerRow.ls_annotation_id == ls_annotation_id, AnswerRow.task_id == task_id
            )
        )
