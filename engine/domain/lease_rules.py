"""Rules for handing out work (pure): which slot a worker may lease, gold mixing, lease expiry,
late submits.

The free-slot rules are data (engine/domain/predicate.py): ``slot_is_free`` and
``may_lease`` evaluate them here, and the repositories compile the same definitions to SQL
(engine/work/slot_sql.py), the worker API's one-statement claim included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from engine.domain.job_stage import JobStage
from engine.domain.predicate import (
    Field,
    Param,
    Predicate,
    after,
    all_of,
    any_of,
    at_or_before,
    eq,
    holds,
    is_true,
    ne,
    not_,
    not_null,
)
from engine.domain.work_states import SlotPurpose, SlotState


class WorkerTier(StrEnum):
    TRAINEE = "trainee"
    QUALIFIED = "qualified"
    REVIEWER = "reviewer"


class WorkerStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # no paid tasks until a coordinator resumes the worker


def gold_ratio_for(job_ratio: float, tier: WorkerTier, trainee_min_ratio: float) -> float:
    """Trainees see gold at least ``trainee_min_ratio`` of the time, so their skill is known
    early; others see the job's ratio."""
    if tier is WorkerTier.TRAINEE:
        return max(job_ratio, trainee_min_ratio)
    return job_ratio


def serve_gold(draw: float, ratio: float) -> bool:
    """``draw`` is uniform in [0, 1): the caller owns the randomness, so this stays testable."""
    return draw < ratio


def lease_expiry(now: datetime, lease_seconds: float) -> datetime:
    return now + timedelta(seconds=lease_seconds)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything is stored in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def is_live(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at > now


# -- the free-slot rules -----------------------------------------------------------------------

# Facts about a candidate slot, as seen by the worker who asks for it.
SLOT_STATE = Field("slot.state")
SLOT_PURPOSE = Field("slot.purpose")
SLOT_REPLICA = Field("slot.replica")  # None: a gold slot (one per worker, made when leased)
SLOT_EXPIRES_AT = Field("slot.expires_at")
JOB_STAGE = Field("job.stage")
WORKER_ANSWERED_TASK = Field("worker.answered_task")
# The worker holds a live lease on a slot of the same task (so never two answers to one task).
WORKER_HOLDS_TASK = Field("worker.holds_task")
NOW = Param("now")

LEASE_RAN_OUT: Predicate = all_of(
    eq(SLOT_STATE, SlotState.LEASED), at_or_before(SLOT_EXPIRES_AT, NOW)
)
LIVE_LEASED_SLOT: Predicate = all_of(eq(SLOT_STATE, SlotState.LEASED), after(SLOT_EXPIRES_AT, NOW))
# Open, or leased with the lease run out: no lock ever stays stuck.
SLOT_IS_FREE: Predicate = any_of(eq(SLOT_STATE, SlotState.OPEN), LEASE_RAN_OUT)
# A regular answer slot still waiting for its answer (a job is complete when none is left).
UNANSWERED_ANSWER_SLOT: Predicate = all_of(
    eq(SLOT_PURPOSE, SlotPurpose.ANSWER),
    ne(SLOT_STATE, SlotState.ANSWERED),
    not_null(SLOT_REPLICA),
)
FREE_ANSWER_SLOT: Predicate = all_of(
    UNANSWERED_ANSWER_SLOT,
    eq(JOB_STAGE, JobStage.LABELING),
    SLOT_IS_FREE,
    not_(is_true(WORKER_ANSWERED_TASK)),
    not_(is_true(WORKER_HOLDS_TASK)),
)
FREE_REVIEW_SLOT: Predicate = all_of(
    eq(SLOT_PURPOSE, SlotPurpose.REVIEW),
    eq(JOB_STAGE, JobStage.REVIEWING),
    SLOT_IS_FREE,
    # Nobody reviews a task they answered.
    not_(is_true(WORKER_ANSWERED_TASK)),
)


@dataclass(frozen=True)
class LeaseRule:
    """Which slots a kind of lease takes, and in which order."""

    purpose: SlotPurpose
    free: Predicate
    # Answer slot ids grow with publishing, so id order already serves older jobs first;
    # review slots are made when a job is scored, so they go by the job's age.
    oldest_job_first: bool


ANSWER_LEASE = LeaseRule(SlotPurpose.ANSWER, FREE_ANSWER_SLOT, oldest_job_first=False)
REVIEW_LEASE = LeaseRule(SlotPurpose.REVIEW, FREE_REVIEW_SLOT, oldest_job_first=True)


@dataclass(frozen=True)
class SlotView:
    state: SlotState
    lease_id: str | None
    expires_at: datetime | None
    purpose: SlotPurpose = SlotPurpose.ANSWER
    replica: int | None = 0


@dataclass(frozen=True)
class Candidate:
    """A slot as one worker sees it: the slot, its job's stage and the worker's own history
    on the task."""

    slot: SlotView
    job_stage: JobStage
    worker_answered_task: bool = False
    worker_holds_task: bool = False


def slot_facts(slot: SlotView) -> dict[str, Any]:
    return {
        SLOT_STATE.name: slot.state,
        SLOT_PURPOSE.name: slot.purpose,
        SLOT_REPLICA.name: slot.replica,
        SLOT_EXPIRES_AT.name: slot.expires_at,
    }


def candidate_facts(candidate: Candidate) -> dict[str, Any]:
    return {
        **slot_facts(candidate.slot),
        JOB_STAGE.name: candidate.job_stage,
        WORKER_ANSWERED_TASK.name: candidate.worker_answered_task,
        WORKER_HOLDS_TASK.name: candidate.worker_holds_task,
    }


def slot_is_free(slot: SlotView, now: datetime) -> bool:
    """A slot can be leased when open, or when its lease ran out."""
    return holds(SLOT_IS_FREE, slot_facts(slot), {NOW.name: now})


def may_lease(rule: LeaseRule, candidate: Candidate, now: datetime) -> bool:
    """Whether the worker may lease this slot under the rule (what the SQL form selects)."""
    return holds(rule.free, candidate_facts(candidate), {NOW.name: now})


def submit_keeps_own_slot(slot: SlotView, lease_id: str) -> bool:
    """A submit fills the slot its lease was for while nobody else took it, even if late."""
    return slot.state is SlotState.LEASED and slot.lease_id == lease_id


__all__ = [
    "ANSWER_LEASE", "FREE_ANSWER_SLOT", "FREE_REVIEW_SLOT", "LEASE_RAN_OUT", "LIVE_LEASED_SLOT",
    "REVIEW_LEASE", "SLOT_IS_FREE", "UNANSWERED_ANSWER_SLOT", "Candidate", "LeaseRule",
    "SlotPurpose", "SlotState", "SlotView", "WorkerStatus", "WorkerTier", "as_utc",
    "gold_ratio_for", "is_live", "lease_expiry", "may_lease", "serve_gold", "slot_is_free",
    "submit_keeps_own_slot",
]  # fmt: skip
