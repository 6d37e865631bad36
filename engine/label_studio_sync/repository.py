"""All SQL for annotations the engine refused."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.db.models import RefusedAnnotationRow


class RefusedAnnotationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, ls_annotation_id: int) -> RefusedAnnotationRow | None:
        return self.session.get(RefusedAnnotationRow, ls_annotation_id)

    def add(self, row: RefusedAnnotationRow) -> None:
        self.session.add(row)
        self.session.flush()
