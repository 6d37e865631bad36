"""All SQL for the outbox and stage leases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.db.models import JobRow, OutboxRow, StageLeaseRow
from engine.pipeline.routing import Step


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        # Rows this unit of work wrote: relayed right after it commits.
        self.added: list[OutboxRow] = []

    def add(self, step: Step, args: Sequence[Any], job_id: str | None) -> None:
        row = OutboxRow(job_id=job_id, task=step.task, queue=step.queue, args=list(args))
        self.session.add(row)
        self.added.append(row)

    def take_added_ids(self) -> list[int]:
        ids = [row.id for row in self.added if row.id is not None]
        self.added = []
        return ids

    def forget_added(self) -> None:
        self.added = []

    def pending(
        self, *, ids: Sequence[int] | None = None, created_before: datetime | None = None,
        limit: int = 500,
    ) -> Sequence[OutboxRow]:  # fmt: skip
        stmt = select(OutboxRow).where(OutboxRow.sent_at.is_(None))
        if ids is not None:
            stmt = stmt.where(OutboxRow.id.in_(list(ids)))
        if created_before is not None:
            stmt = stmt.where(OutboxRow.created_at < created_before)
        return self.session.scalars(stmt.order_by(OutboxRow.id).limit(limit)).all()

    def mark_sent(self, ids: Sequence[int], at: datetime) -> None:
        if ids:
            self.session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(list(ids)), OutboxRow.sent_at.is_(None))
                .values(sent_at=at, attempts=OutboxRow.attempts + 1)
            )

    def mark_failed(self, row_id: int, error: str) -> None:
        self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == row_id)
            .values(attempts=OutboxRow.attempts + 1, last_error=error[:2000])
        )

    def jobs_with_pending(self, job_ids: Sequence[str]) -> set[str]:
        if not job_ids:
            return set()
        return set(
            self.session.scalars(
                select(OutboxRow.job_id).where(
                    OutboxRow.sent_at.is_(None), OutboxRow.job_id.in_(list(job_ids))
                )
            )
        )

    def for_job(self, job_id: str) -> Sequence[OutboxRow]:
        return self.session.scalars(
            select(OutboxRow).where(OutboxRow.job_id == job_id).order_by(OutboxRow.id)
        ).all()


class StageLeaseRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, job_id: str) -> StageLeaseRow | None:
        return self.session.get(StageLeaseRow, job_id)

    def hold(self, job_id: str, stage: str, holder: str | None, now: datetime) -> None:
        """Insert or take over the job's stage lease (one row per job)."""
        values: dict[str, Any] = {
            "job_id": job_id, "stage": stage, "holder": holder, "heartbeat_at": now,
        }  # fmt: skip
        insert = pg_insert if self.session.get_bind().dialect.name == "postgresql" else None
        stmt = (insert or sqlite_insert)(StageLeaseRow).values(**values, requeues=0)
        self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["job_id"],
                set_={"stage": stage, "holder": holder, "heartbeat_at": now},
            )
        )

    def heartbeat(self, job_id: str, holder: str, now: datetime) -> bool:
        # A released lease is taken back: several batch tasks of one job share its lease.
        result = self.session.execute(
            update(StageLeaseRow)
            .where(
                StageLeaseRow.job_id == job_id,
                or_(StageLeaseRow.holder == holder, StageLeaseRow.holder.is_(None)),
            )
            .values(heartbeat_at=now, holder=holder)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def release(self, job_id: str, holder: str, now: datetime) -> None:
        # The row stays: its heartbeat says when the job last showed life.
        self.session.execute(
            update(StageLeaseRow)
            .where(StageLeaseRow.job_id == job_id, StageLeaseRow.holder == holder)
            .values(holder=None, heartbeat_at=now)
        )

    def note_requeue(self, job_id: str, stage: str, now: datetime) -> None:
        self.hold(job_id, stage, None, now)
        self.session.execute(
            update(StageLeaseRow)
            .where(StageLeaseRow.job_id == job_id)
            .values(requeues=StageLeaseRow.requeues + 1)
        )

    def jobs_in_stages_quiet_since(
        self, stages: Sequence[str], cutoff: datetime
    ) -> Sequence[tuple[JobRow, StageLeaseRow | None]]:
        """Jobs in these stages not updated since ``cutoff``, with their stage lease."""
        rows = self.session.execute(
            select(JobRow, StageLeaseRow)
            .outerjoin(StageLeaseRow, StageLeaseRow.job_id == JobRow.id)
            .where(JobRow.stage.in_(list(stages)), JobRow.updated_at < cutoff)
            .order_by(JobRow.updated_at)
        ).all()
        return [(job, lease) for job, lease in rows]
