"""All SQL a statement needs besides the ledger: a worker's leases, answers and reviews in a
period (the ledger's entries come from uow.ledger)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.db.models import AnswerRow, AssignmentRow, JobRow, LeaseRow, ReviewRow


@dataclass(frozen=True, slots=True)
class SubmittedLease:
    job_id: str
    purpose: str  # answer | review
    created_at: datetime
    ended_at: datetime
    expires_at: datetime


class StatementRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def submitted_leases(
        self, worker_id: str, since: datetime, until: datetime
    ) -> list[SubmittedLease]:
        """Leases the worker submitted, begun in [since, until): the engine's own clock."""
        rows = self.session.execute(
            select(
                AssignmentRow.job_id,
                AssignmentRow.purpose,
                LeaseRow.created_at,
                LeaseRow.ended_at,
                LeaseRow.expires_at,
            )
            .join(AssignmentRow, AssignmentRow.id == LeaseRow.assignment_id)
            .where(
                LeaseRow.worker_id == worker_id,
                LeaseRow.outcome == "submitted",
                LeaseRow.ended_at.is_not(None),
                LeaseRow.created_at >= since,
                LeaseRow.created_at < until,
            )
            .order_by(LeaseRow.created_at)
        )
        return [SubmittedLease(r[0], r[1], r[2], r[3], r[4]) for r in rows if r[3] is not None]

    def answers_per_job(
        self, worker_id: str, since: datetime, until: datetime
    ) -> dict[str, tuple[int, int]]:
        """job id -> (answers, of which gold) the worker gave in [since, until)."""
        rows = self.session.execute(
            select(
                AnswerRow.job_id,
                func.count(AnswerRow.id),
                func.count(AnswerRow.id).filter(AnswerRow.is_gold.is_(True)),
            )
            .where(
                AnswerRow.worker_id == worker_id,
                AnswerRow.created_at >= since,
                AnswerRow.created_at < until,
            )
            .group_by(AnswerRow.job_id)
        )
        return {r[0]: (int(r[1]), int(r[2])) for r in rows}

    def reviews_per_job(self, worker_id: str, since: datetime, until: datetime) -> dict[str, int]:
        rows = self.session.execute(
            select(ReviewRow.job_id, func.count(ReviewRow.id))
            .where(
                ReviewRow.reviewer_id == worker_id,
                ReviewRow.created_at >= since,
                ReviewRow.created_at < until,
            )
            .group_by(ReviewRow.job_id)
        )
        return {r[0]: int(r[1]) for r in rows}

    def job_kinds(self, job_ids: list[str]) -> dict[str, str]:
        if not job_ids:
            return {}
        return dict(
            self.session.execute(select(JobRow.id, JobRow.kind).where(JobRow.id.in_(job_ids))).all()
        )
