"""All SQL for answer slots, leases and answers.

Leasing is one transaction per call: the worker's row is locked first (a worker's own calls run
one at a time), then a free slot is claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
concurrent workers never wait on each other's rows, and a conditional UPDATE makes the claim
safe on SQLite too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from engine.db.models import AnswerRow, AssignmentRow, JobRow, LeaseRow, TaskRow
from engine.domain.job_stage import JobStage


@dataclass(frozen=True)
class TaskFacts:
    """What the hot paths need of a task and its job, read in one statement."""

    task_id: str
    job_id: str
    job_kind: str
    object_key: str
    lowres_object_key: str | None
    start_seconds: float | None
    end_seconds: float | None
    box_w: int | None
    box_h: int | None
    is_gold: bool


def _free(now: datetime):  # type: ignore[no-untyped-def]
    return or_(
        AssignmentRow.state == "open",
        and_(AssignmentRow.state == "leased", AssignmentRow.expires_at <= now),
    )


# The worker API's statements are built once: building a SQLAlchemy statement and its cache
# key costs more Python time per call than PostgreSQL takes to run these.
_TASK_FACTS = (
    select(
        TaskRow.id.label("task_id"),
        TaskRow.job_id,
        JobRow.kind.label("job_kind"),
        TaskRow.object_key,
        TaskRow.lowres_object_key,
        TaskRow.start_seconds,
        TaskRow.end_seconds,
        TaskRow.box_w,
        TaskRow.box_h,
        TaskRow.is_gold,
    )  # fmt: skip
    .join(JobRow, JobRow.id == TaskRow.job_id)
    .where(TaskRow.id == bindparam("task_id"))
)
_JOB_SPEC = select(JobRow.spec).where(JobRow.id == bindparam("job_id"))
_LIVE_LEASE = (
    select(LeaseRow)
    .where(
        LeaseRow.worker_id == bindparam("worker_id"),
        LeaseRow.outcome.is_(None),
        LeaseRow.expires_at > bindparam("now"),
    )
    .order_by(LeaseRow.created_at.desc())
    .limit(1)
)
_LEASE_AND_SLOT = (
    select(LeaseRow, AssignmentRow)
    .join(AssignmentRow, AssignmentRow.id == LeaseRow.assignment_id)
    .where(LeaseRow.id == bindparam("lease_id"))
    .with_for_update(of=[LeaseRow, AssignmentRow])
)
_ANSWER_BY_CLIENT_ID = select(AnswerRow).where(
    AnswerRow.worker_id == bindparam("worker_id"),
    AnswerRow.client_answer_id == bindparam("client_answer_id"),
)
_GOLD_TASK = (
    select(TaskRow)
    .join(JobRow, JobRow.id == TaskRow.job_id)
    .where(
        TaskRow.is_gold,
        TaskRow.status != "failed",
        JobRow.stage == JobStage.LABELING.value,
        ~exists().where(
            AnswerRow.task_id == TaskRow.id, AnswerRow.worker_id == bindparam("worker_id")
        ),
    )
    .order_by(func.random())
    .limit(1)
)
_CLAIM_NEXT_FREE_SLOT = text(
    """
    WITH free AS (
        SELECT a.id FROM assignments a JOIN jobs j ON j.id = a.job_id
        WHERE j.stage = 'labeling' AND a.purpose = 'answer' AND a.state <> 'answered'
          AND a.replica IS NOT NULL
          AND (a.state = 'open' OR (a.state = 'leased' AND a.expires_at <= :now))
          AND (CAST(:job_id AS VARCHAR) IS NULL OR a.job_id = :job_id)
          AND NOT EXISTS (SELECT 1 FROM answers x
                          WHERE x.task_id = a.task_id AND x.worker_id = :worker)
          AND NOT EXISTS (SELECT 1 FROM assignments m
                          WHERE m.task_id = a.task_id AND m.worker_id = :worker
                            AND m.state = 'leased' AND m.expires_at > :now)
        ORDER BY a.id LIMIT 1 FOR UPDATE OF a SKIP LOCKED
    ), claimed AS (
        UPDATE assignments SET state = 'leased', worker_id = :worker,
               lease_id = :lease, expires_at = :expires
        FROM free WHERE assignments.id = free.id
        RETURNING assignments.id, assignments.task_id, assignments.job_id,
                  assignments.replica
    ), recorded AS (
        INSERT INTO leases (id, assignment_id, task_id, worker_id, channel, created_at,
                            expires_at)
        SELECT :lease, id, task_id, :worker, :channel, :now, :expires FROM claimed
    )
    SELECT id, task_id, job_id, replica FROM claimed
    """
)


class WorkRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- slots -------------------------------------------------------------------------------

    def add_slots(self, job_id: str, task_ids: Sequence[str], overlap: int) -> int:
        have = set(
            self.session.execute(
                select(AssignmentRow.task_id, AssignmentRow.replica).where(
                    AssignmentRow.job_id == job_id,
                    AssignmentRow.replica.is_not(None),
                    AssignmentRow.purpose == "answer",
                )
            ).all()
        )
        rows = [
            AssignmentRow(task_id=t, job_id=job_id, replica=r)
            for t in task_ids
            for r in range(overlap)
            if (t, r) not in have
        ]
        self.session.add_all(rows)
        self.session.flush()
        return len(rows)

    def refresh_statistics(self) -> None:
        """Fresh planner statistics after a job's slots are made (PostgreSQL), so the first
        leases do not plan with an empty table's numbers."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("ANALYZE assignments"))

    def workable_task_ids(self, job_id: str) -> list[str]:
        """Regular (non-gold) tasks that workers should answer: not failed."""
        return list(
            self.session.scalars(
                select(TaskRow.id)
                .where(TaskRow.job_id == job_id, TaskRow.status != "failed", ~TaskRow.is_gold)
                .order_by(TaskRow.source_id, TaskRow.seq)
            )
        )

    def slot(self, assignment_id: int, *, for_update: bool = False) -> AssignmentRow | None:
        stmt = select(AssignmentRow).where(AssignmentRow.id == assignment_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalar(stmt)

    def slot_for(self, task_id: str, replica: int) -> AssignmentRow | None:
        return self.session.scalar(
            select(AssignmentRow).where(
                AssignmentRow.task_id == task_id, AssignmentRow.replica == replica
            )
        )

    def task_facts(self, task_id: str) -> TaskFacts | None:
        row = self.session.execute(_TASK_FACTS, {"task_id": task_id}).first()
        return TaskFacts(**row._asdict()) if row is not None else None

    def job_spec(self, job_id: str) -> dict[str, Any] | None:
        return self.session.scalar(_JOB_SPEC, {"job_id": job_id})

    def live_lease_of(self, worker_id: str, now: datetime) -> LeaseRow | None:
        return self.session.scalar(_LIVE_LEASE, {"worker_id": worker_id, "now": now})

    def held_lease_on(self, task_id: str, worker_id: str) -> LeaseRow | None:
        """The worker's open lease on a task whose slot nobody else took since."""
        return self.session.scalar(
            select(LeaseRow)
            .join(AssignmentRow, AssignmentRow.lease_id == LeaseRow.id)
            .where(
                LeaseRow.task_id == task_id,
                LeaseRow.worker_id == worker_id,
                LeaseRow.outcome.is_(None),
                AssignmentRow.state == "leased",
            )
            .limit(1)
        )

    def find_free_slot(
        self, worker_id: str, now: datetime, job_id: str | None, task_id: str | None = None
    ) -> AssignmentRow | None:
        """A free regular slot of an open job, on a task this worker has not answered or
        does not hold now."""
        mine = aliased(AssignmentRow)
        stmt = (
            select(AssignmentRow)
            .join(JobRow, JobRow.id == AssignmentRow.job_id)
            .where(
                JobRow.stage == JobStage.LABELING.value,
                AssignmentRow.purpose == "answer",
                AssignmentRow.state != "answered",
                AssignmentRow.replica.is_not(None),
                _free(now),
                ~exists().where(
                    AnswerRow.task_id == AssignmentRow.task_id, AnswerRow.worker_id == worker_id
                ),
                ~exists().where(
                    mine.task_id == AssignmentRow.task_id,
                    mine.worker_id == worker_id,
                    mine.state == "leased",
                    mine.expires_at > now,
                ),
            )
            # Slot ids grow with publishing, so id order serves older jobs first, and the
            # partial index on unanswered slots lets LIMIT 1 stop at the first free one.
            .order_by(AssignmentRow.id)
            .limit(1)
            .with_for_update(of=AssignmentRow, skip_locked=True)
        )
        if job_id is not None:
            stmt = stmt.where(AssignmentRow.job_id == job_id)
        if task_id is not None:
            stmt = stmt.where(AssignmentRow.task_id == task_id)
        return self.session.scalar(stmt)

    def claim_next_free_slot(
        self,
        worker_id: str,
        lease_id: str,
        channel: str,
        now: datetime,
        expires_at: datetime,
        job_id: str | None,
    ) -> tuple[int, str, str, int | None] | None:
        """PostgreSQL: find, lock, claim a free slot and record its lease in one statement
        (one round trip on the hottest path). Returns (slot id, task, job, replica)."""
        row = self.session.execute(
            _CLAIM_NEXT_FREE_SLOT,
            {"now": now, "job_id": job_id, "worker": worker_id, "lease": lease_id,
             "expires": expires_at, "channel": channel},
        ).first()  # fmt: skip
        return (int(row[0]), str(row[1]), str(row[2]), row[3]) if row else None

    def job_has_gold(self, job_id: str) -> bool:
        return bool(
            self.session.scalar(select(exists().where(TaskRow.job_id == job_id, TaskRow.is_gold)))
        )

    def find_gold_task(self, worker_id: str, job_id: str | None) -> TaskRow | None:
        stmt = _GOLD_TASK if job_id is None else _GOLD_TASK.where(TaskRow.job_id == job_id)
        return self.session.scalar(stmt, {"worker_id": worker_id})

    def gold_slot(self, task_id: str, worker_id: str) -> AssignmentRow | None:
        return self.session.scalar(
            select(AssignmentRow).where(
                AssignmentRow.task_id == task_id,
                AssignmentRow.worker_id == worker_id,
                AssignmentRow.replica.is_(None),
            )
        )

    def add_slot(self, slot: AssignmentRow) -> None:
        self.session.add(slot)
        self.session.flush()

    def claim(
        self, slot_id: int, worker_id: str, lease_id: str, expires_at: datetime, now: datetime
    ) -> bool:
        """Take a free slot; False when someone else took it first."""
        result = self.session.execute(
            update(AssignmentRow)
            .where(AssignmentRow.id == slot_id, _free(now))
            .values(state="leased", worker_id=worker_id, lease_id=lease_id, expires_at=expires_at)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    def claim_gold(self, slot_id: int, worker_id: str, lease_id: str, expires_at: datetime) -> None:
        self.session.execute(
            update(AssignmentRow)
            .where(AssignmentRow.id == slot_id)
            .values(state="leased", worker_id=worker_id, lease_id=lease_id, expires_at=expires_at)
            .execution_options(synchronize_session=False)
        )

    def open_slot(self, slot: AssignmentRow) -> None:
        slot.state, slot.worker_id, slot.lease_id, slot.expires_at = "open", None, None, None

    # -- leases ------------------------------------------------------------------------------

    def add_lease(self, lease: LeaseRow) -> None:
        self.session.add(lease)
        self.session.flush()

    def lease_and_slot(self, lease_id: str) -> tuple[LeaseRow, AssignmentRow] | None:
        """A lease with the slot it was made on, both locked (one statement for submits)."""
        row = self.session.execute(_LEASE_AND_SLOT, {"lease_id": lease_id}).first()
        return (row[0], row[1]) if row is not None else None

    def lease(self, lease_id: str, *, for_update: bool = False) -> LeaseRow | None:
        stmt = select(LeaseRow).where(LeaseRow.id == lease_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalar(stmt)

    def expire_leases(self, now: datetime) -> int:
        """Return run-out slots to the pool and close their leases; returns how many."""
        self.session.execute(
            update(LeaseRow)
            .where(LeaseRow.outcome.is_(None), LeaseRow.expires_at <= now)
            .values(outcome="expired", ended_at=now)
            .execution_options(synchronize_session=False)
        )
        result = self.session.execute(
            update(AssignmentRow)
            .where(AssignmentRow.state == "leased", AssignmentRow.expires_at <= now)
            .values(state="open", worker_id=None, lease_id=None, expires_at=None)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    # -- answers -----------------------------------------------------------------------------

    def add_answer(self, values: dict[str, Any]) -> int | None:
        """Insert an answer; None when a unique rule refused it (this worker answered the task
        already, or this client id or Label Studio annotation was filed), in one statement and
        without aborting the caller's transaction."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        stmt = insert(AnswerRow).values(**values).on_conflict_do_nothing()
        return self.session.scalar(stmt.returning(AnswerRow.id))

    def answer_by_client_id(self, worker_id: str, client_answer_id: str) -> AnswerRow | None:
        params = {"worker_id": worker_id, "client_answer_id": client_answer_id}
        return self.session.scalar(_ANSWER_BY_CLIENT_ID, params)

    def answer_of(self, task_id: str, worker_id: str) -> AnswerRow | None:
        return self.session.scalar(
            select(AnswerRow).where(AnswerRow.task_id == task_id, AnswerRow.worker_id == worker_id)
        )

    def answer_by_annotation(self, ls_annotation_id: int) -> AnswerRow | None:
        return self.session.scalar(
            select(AnswerRow).where(AnswerRow.ls_annotation_id == ls_annotation_id)
        )

    def answers_for_job(self, job_id: str) -> Sequence[AnswerRow]:
        return self.session.scalars(
            select(AnswerRow).where(AnswerRow.job_id == job_id).order_by(AnswerRow.id)
        ).all()

    def slot_counts(self, job_id: str) -> dict[str, int]:
        rows = self.session.execute(
            select(AssignmentRow.state, func.count())
            .where(
                AssignmentRow.job_id == job_id,
                AssignmentRow.replica.is_not(None),
                AssignmentRow.purpose == "answer",
            )
            .group_by(AssignmentRow.state)
        ).all()
        return {state: int(n) for state, n in rows}
