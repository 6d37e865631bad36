"""All SQL billing needs of its own: the job_billing rows (the money is in the ledger)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db.billing_models import JobBillingRow


class BillingRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: JobBillingRow) -> None:
        self.session.add(row)
        self.session.flush()

    def get(self, job_id: str, *, for_update: bool = False) -> JobBillingRow | None:
        stmt = select(JobBillingRow).where(JobBillingRow.job_id == job_id)
        if for_update:
            stmt = stmt.with_for_update(key_share=True)
        return self.session.scalar(stmt)
