"""All SQL for answer and review slots, leases and answers.

Leasing is one transaction per call: the worker's row is locked first (a worker's own calls run
one at a time), then a free slot is claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
concurrent workers never wait on each other's rows, and a conditional UPDATE makes the claim
safe on SQLite too. Which slot is free is the domain's rule (engine/domain/lease_rules.py),
compiled here by engine/work/slot_sql.py: this module writes no slot state test of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnClause,
    Select,
    Table,
    TextClause,
    bindparam,
    exists,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.db.models import AnswerRow, AssignmentRow, JobRow, LeaseRow, TaskRow
from engine.domain.job_stage import JobStage
from engine.domain.lease_rules import (
    ANSWER_LEASE,
    LEASE_RAN_OUT,
    SLOT_IS_FREE,
    LeaseRule,
)
from engine.domain.work_states import LeaseOutcome, SlotPurpose, SlotState
from engine.work.slot_sql import candidate_condition, slot_condition


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


@dataclass(frozen=True)
class ClaimedSlot:
    slot_id: int
    task_id: str
    job_id: str
    replica: int | None


# LIMIT 1 as a literal, as the planner saw it before (a parameter would be planned blind).
_ONE: ColumnClause[int] = literal_column("1")


def _free_slots(rule: LeaseRule, worker: Any, now: Any) -> Select[AssignmentRow]:
    """The rule's free slots for a worker, first one first, locked without waiting."""
    stmt = (
        select(AssignmentRow)
        .join(JobRow, JobRow.id == AssignmentRow.job_id)
        .where(candidate_condition(rule.free, worker, now))
    )
    if rule.oldest_job_first:
        stmt = stmt.order_by(JobRow.created_at)
    # The partial index on unanswered answer slots lets LIMIT 1 stop at the first free one.
    return (
        stmt.order_by(AssignmentRow.id)
        .limit(_ONE)
        .with_for_update(of=AssignmentRow, skip_locked=True)
    )


def _claim_next_free_slot(*, one_job: bool) -> TextClause:
    """PostgreSQL: find, lock and claim the first free answer slot (``ANSWER_LEASE``) and
    record its lease, in one statement (one round trip on the hottest path).

    Built with SQLAlchemy from the domain's rule, then rendered once to plain SQL: executing
    the text costs less Python per call than the statement's cache lookup. The slot's ran-out
    lease, if any, is left for the expiry sweep to close (closing it here cost ~5% per call).
    No parameter may be named like a column of ``assignments`` or ``leases``: SQLAlchemy
    would take it for a value to SET in the UPDATE."""
    slots, leases = cast(Table, AssignmentRow.__table__), cast(Table, LeaseRow.__table__)
    worker = bindparam("worker", type_=slots.c.worker_id.type)
    now = bindparam("now", type_=slots.c.expires_at.type)
    lease = bindparam("lease", type_=slots.c.lease_id.type)
    expires = bindparam("expires", type_=slots.c.expires_at.type)
    free = (
        select(slots.c.id)
        .join(JobRow.__table__, JobRow.__table__.c.id == slots.c.job_id)
        .where(candidate_condition(ANSWER_LEASE.free, worker, now, slots.c, JobRow.__table__.c))
    )
    if one_job:
        free = free.where(slots.c.job_id == bindparam("in_job", type_=slots.c.job_id.type))
    free_cte = (
        free.order_by(slots.c.id)
        .limit(_ONE)
        .with_for_update(of=slots, skip_locked=True)
        .cte("free")
    )
    claimed = (
        update(slots)
        .where(slots.c.id == free_cte.c.id)
        .values(
            state=literal_column(f"'{SlotState.LEASED.value}'"),
            worker_id=worker,
            lease_id=lease,
            expires_at=expires,
        )  # fmt: skip
        .returning(slots.c.id, slots.c.task_id, slots.c.job_id, slots.c.replica)
        .cte("claimed")
    )
    recorded = (
        insert(leases)
        .from_select(
            ["id", "assignment_id", "task_id", "worker_id", "channel", "created_at", "expires_at"],
            select(
                lease,
                claimed.c.id,
                claimed.c.task_id,
                worker,
                bindparam("via", type_=leases.c.channel.type),
                now,
                expires,
            ),
        )  # fmt: skip
        .cte("recorded")
    )
    stmt = select(claimed.c.id, claimed.c.task_id, claimed.c.job_id, claimed.c.replica)
    return text(str(stmt.add_cte(recorded).compile(dialect=PGDialect(paramstyle="named"))))


_CLAIM_ANY_JOB = _claim_next_free_slot(one_job=False)
_CLAIM_IN_JOB = _claim_next_free_slot(one_job=True)

# The worker API's other statements are built once too: building a SQLAlchemy statement and its
# cache key costs more Python time per call than PostgreSQL takes to run these.
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
                    AssignmentRow.purpose == SlotPurpose.ANSWER.value,
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

    def task(self, task_id: str) -> TaskRow | None:
        return self.session.get(TaskRow, task_id)

    def slot(self, assignment_id: int, *, for_update: bool = False) -> AssignmentRow | None:
        stmt = select(AssignmentRow).where(AssignmentRow.id == assignment_id)
        if for_update:
            stmt = stmt.with_for_update(key_share=True)
        return self.session.scalar(stmt)

    def slot_for(self, task_id: str, replica: int) -> AssignmentRow | None:
        return self.session.scalar(
            select(AssignmentRow).where(
                AssignmentRow.task_id == task_id, AssignmentRow.replica == replica
            )
        )

    def refresh(self, slot: AssignmentRow) -> None:
        """Reread a slot after a conditional UPDATE changed its row behind the session."""
        self.session.refresh(slot)

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
                AssignmentRow.state == SlotState.LEASED.value,
            )
            .limit(1)
        )

    def find_free_slot(
        self,
        rule: LeaseRule,
        worker_id: str,
        now: datetime,
        *,
        job_id: str | None = None,
        task_id: str | None = None,
    ) -> AssignmentRow | None:
        """The first slot the rule lets this worker lease, locked (skipping locked ones)."""
        stmt = _free_slots(rule, bindparam("worker", worker_id), bindparam("now", now))
        if job_id is not None:
            stmt = stmt.where(AssignmentRow.job_id == job_id)
        if task_id is not None:
            stmt = stmt.where(AssignmentRow.task_id == task_id)
        return self.session.scalar(stmt)

    @property
    def claims_in_one_statement(self) -> bool:
        """PostgreSQL claims a slot and records its lease in one statement; SQLite (no SKIP
        LOCKED, no data-modifying CTEs) finds, then claims."""
        return self.session.get_bind().dialect.name == "postgresql"

    def claim_next_free_slot(
        self,
        worker_id: str,
        lease_id: str,
        channel: str,
        now: datetime,
        expires_at: datetime,
        job_id: str | None,
    ) -> ClaimedSlot | None:
        """PostgreSQL: find, lock and claim the first free answer slot (``ANSWER_LEASE``) and
        record its lease, in one round trip (the worker API's hottest path)."""
        params = {"now": now, "worker": worker_id, "lease": lease_id, "expires": expires_at,
                  "via": channel}  # fmt: skip
        if job_id is None:
            row = self.session.execute(_CLAIM_ANY_JOB, params).first()
        else:
            row = self.session.execute(_CLAIM_IN_JOB, {**params, "in_job": job_id}).first()
        return ClaimedSlot(int(row[0]), str(row[1]), str(row[2]), row[3]) if row else None

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
        """Take a slot if it is still free (``SLOT_IS_FREE``); False when someone took it."""
        result = self.session.execute(
            update(AssignmentRow)
            .where(AssignmentRow.id == slot_id, slot_condition(SLOT_IS_FREE, bindparam("now", now)))
            .values(
                state=SlotState.LEASED.value,
                worker_id=worker_id,
                lease_id=lease_id,
                expires_at=expires_at,
            )  # fmt: skip
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    def claim_own(self, slot_id: int, worker_id: str, lease_id: str, expires_at: datetime) -> None:
        """Take a slot that is this worker's alone (a gold slot), whatever its state."""
        self.session.execute(
            update(AssignmentRow)
            .where(AssignmentRow.id == slot_id)
            .values(
                state=SlotState.LEASED.value,
                worker_id=worker_id,
                lease_id=lease_id,
                expires_at=expires_at,
            )  # fmt: skip
            .execution_options(synchronize_session=False)
        )

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
            stmt = stmt.with_for_update(key_share=True)
        return self.session.scalar(stmt)

    def expire_leases(self, now: datetime) -> int:
        """Return run-out slots (``LEASE_RAN_OUT``) to the pool and close their leases;
        returns how many slots."""
        self.session.execute(
            update(LeaseRow)
            .where(LeaseRow.outcome.is_(None), LeaseRow.expires_at <= now)
            .values(outcome=LeaseOutcome.EXPIRED.value, ended_at=now)
            .execution_options(synchronize_session=False)
        )
        result = self.session.execute(
            update(AssignmentRow)
            .where(slot_condition(LEASE_RAN_OUT, bindparam("now", now)))
            .values(state=SlotState.OPEN.value, worker_id=None, lease_id=None, expires_at=None)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    # -- answers -----------------------------------------------------------------------------

    def add_answer(self, values: dict[str, Any]) -> int | None:
        """Insert an answer; None when a unique rule refused it (this worker answered the task
        already, or this client id or Label Studio annotation was filed), in one statement and
        without aborting the caller's transaction."""
        dialect = self.session.get_bind().dialect.name
        insert_into = postgresql_insert if dialect == "postgresql" else sqlite_insert
        stmt = insert_into(AnswerRow).values(**values).on_conflict_do_nothing()
        return self.session.scalar(stmt.returning(AnswerRow.id))

    def answer_by_client_id(self, worker_id: str, client_answer_id: str) -> AnswerRow | None:
        params = {"worker_id": worker_id, "client_answer_id": client_answer_id}
        return self.session.scalar(_ANSWER_BY_CLIENT_ID, params)

    def answer_of(self, task_id: str, worker_id: str) -> AnswerRow | None:
        return self.session.scalar(
            select(AnswerRow).where(AnswerRow.task_id == task_id, AnswerRow.worker_id == worker_id)
        )

    def slot_counts(self, job_id: str) -> dict[str, int]:
        rows = self.session.execute(
            select(AssignmentRow.state, func.count())
            .where(
                AssignmentRow.job_id == job_id,
                AssignmentRow.replica.is_not(None),
                AssignmentRow.purpose == SlotPurpose.ANSWER.value,
            )
            .group_by(AssignmentRow.state)
        ).all()
        return {state: int(n) for state, n in rows}
