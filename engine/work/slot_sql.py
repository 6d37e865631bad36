"""The free-slot rules of engine/domain/lease_rules.py compiled to SQL: which column or
subquery each fact of a candidate slot is, for work and review leases alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists
from sqlalchemy.sql.elements import ColumnElement

from engine.db.models import AnswerRow, AssignmentRow, JobRow
from engine.domain.lease_rules import (
    JOB_STAGE,
    LIVE_LEASED_SLOT,
    NOW,
    SLOT_EXPIRES_AT,
    SLOT_PURPOSE,
    SLOT_REPLICA,
    SLOT_STATE,
    WORKER_ANSWERED_TASK,
    WORKER_HOLDS_TASK,
)
from engine.domain.predicate import Predicate
from engine.work.predicate_sql import to_sql

# AssignmentRow or an alias of it.
SlotTable = Any


def slot_fields(slot: SlotTable) -> dict[str, ColumnElement[Any]]:
    return {
        SLOT_STATE.name: slot.state,
        SLOT_PURPOSE.name: slot.purpose,
        SLOT_REPLICA.name: slot.replica,
        SLOT_EXPIRES_AT.name: slot.expires_at,
    }


def slot_condition(
    predicate: Predicate, now: ColumnElement[Any] | None = None, slot: SlotTable = AssignmentRow
) -> ColumnElement[bool]:
    """A rule that reads only the slot's own columns (free, ran out, unanswered)."""
    return to_sql(predicate, slot_fields(slot), {} if now is None else {NOW.name: now})


def candidate_condition(
    predicate: Predicate,
    worker: ColumnElement[Any],
    now: ColumnElement[Any],
    slot: SlotTable = AssignmentRow,
    job: Any = JobRow,
) -> ColumnElement[bool]:
    """A rule about a slot as ``worker`` sees it; the query joins ``job`` to the slot."""
    # Core tables in the subqueries: the worker API's claim stays a plain Core statement.
    answers = AnswerRow.__table__.c
    mine = AssignmentRow.__table__.alias("mine").c
    fields = {
        **slot_fields(slot),
        JOB_STAGE.name: job.stage,
        WORKER_ANSWERED_TASK.name: exists().where(
            answers.task_id == slot.task_id, answers.worker_id == worker
        ),
        WORKER_HOLDS_TASK.name: exists().where(
            mine.task_id == slot.task_id,
            mine.worker_id == worker,
            slot_condition(LIVE_LEASED_SLOT, now, mine),
        ),
    }
    return to_sql(predicate, fields, {NOW.name: now})
