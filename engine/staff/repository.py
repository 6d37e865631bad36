"""All SQL for staff keys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db.payout_models import StaffKeyRow


class StaffRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: StaffKeyRow) -> None:
        self.session.add(row)
        self.session.flush()

    def by_name(self, name: str) -> StaffKeyRow | None:
        return self.session.scalar(select(StaffKeyRow).where(StaffKeyRow.name == name))

    def by_prefix(self, prefix: str) -> StaffKeyRow | None:
        return self.session.scalar(select(StaffKeyRow).where(StaffKeyRow.key_prefix == prefix))

    def all(self) -> list[StaffKeyRow]:
        return list(self.session.scalars(select(StaffKeyRow).order_by(StaffKeyRow.name)))
