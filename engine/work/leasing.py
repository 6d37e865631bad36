"""Taking, filling and giving back slots: the one implementation of work and review leases.

A lease is a worker's hold on one slot (an answer slot or a task's review slot) until it runs
out. These helpers move slots and leases only along the domain's transitions
(engine/domain/work_states.py); which slot is free is the domain's rule, applied in SQL.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from engine.db.models import AssignmentRow, LeaseRow
from engine.domain.lease_rules import LeaseRule, SlotView, as_utc, is_live, lease_expiry
from engine.domain.work_states import (
    LeaseOutcome,
    SlotPurpose,
    SlotState,
    check_lease_transition,
    check_slot_transition,
    lease_outcome,
    outcome_after_release,
)
from engine.unit_of_work import UnitOfWork


def slot_view(slot: AssignmentRow) -> SlotView:
    return SlotView(
        SlotState(slot.state), slot.lease_id, as_utc(slot.expires_at), SlotPurpose(slot.purpose),
        slot.replica,
    )  # fmt: skip


def new_lease_id() -> str:
    return str(uuid.uuid4())


def find_and_take(
    uow: UnitOfWork,
    rule: LeaseRule,
    worker_id: str,
    channel: str,
    now: datetime,
    lease_seconds: float,
    *,
    job_id: str | None = None,
    task_id: str | None = None,
    tries: int = 5,
) -> tuple[AssignmentRow, LeaseRow] | None:
    """Lease the first slot the rule lets this worker take. A claim lost to a concurrent
    worker (SQLite has no SKIP LOCKED) just tries the next slot."""
    for _ in range(tries):
        slot = uow.work.find_free_slot(rule, worker_id, now, job_id=job_id, task_id=task_id)
        if slot is None:
            return None
        lease = take(uow, slot, worker_id, channel, now, lease_seconds)
        if lease is not None:
            return slot, lease
    return None


def take(
    uow: UnitOfWork,
    slot: AssignmentRow,
    worker_id: str,
    channel: str,
    now: datetime,
    lease_seconds: float,
    *,
    own_slot: bool = False,
) -> LeaseRow | None:
    """Claim a free slot and record the lease; None when someone else took the slot first.
    ``own_slot``: a slot no one else can take (a worker's gold slot), claimed whatever its state."""
    lease_id = new_lease_id()
    expires = lease_expiry(now, lease_seconds)
    if not _claim(uow, slot, worker_id, lease_id, expires, now, own_slot=own_slot):
        return None
    lease = LeaseRow(
        id=lease_id, assignment_id=slot.id, task_id=slot.task_id, worker_id=worker_id,
        channel=channel, created_at=now, expires_at=expires,
    )  # fmt: skip
    uow.work.add_lease(lease)
    return lease


def take_for_late_submit(
    uow: UnitOfWork, slot: AssignmentRow, lease: LeaseRow, now: datetime, *, own_slot: bool
) -> bool:
    """A run-out lease files its answer on this slot (its own, or another free one of the
    task): the slot is claimed under the lease, already expired. False: someone took it."""
    return _claim(uow, slot, lease.worker_id, lease.id, now, now, own_slot=own_slot)


def _claim(
    uow: UnitOfWork,
    slot: AssignmentRow,
    worker_id: str,
    lease_id: str,
    expires: datetime,
    now: datetime,
    *,
    own_slot: bool,
) -> bool:
    previous = slot.lease_id
    if own_slot:
        check_slot_transition(SlotState(slot.state), SlotState.LEASED)
        uow.work.claim_own(slot.id, worker_id, lease_id, expires)
    # The claim's SQL condition is SLOT_IS_FREE, whose every slot may go to leased.
    elif not uow.work.claim(slot.id, worker_id, lease_id, expires, now):
        return False
    if previous and previous != lease_id:
        # The slot's previous lease ran out; close it so its holder's late submit is judged.
        expire(uow.work.lease(previous), now)
    uow.work.refresh(slot)
    return True


def expire(lease: LeaseRow | None, now: datetime) -> None:
    if lease is not None and lease.outcome is None:
        end(lease, LeaseOutcome.EXPIRED, now)


def end(lease: LeaseRow, outcome: LeaseOutcome, now: datetime) -> None:
    check_lease_transition(lease_outcome(lease.outcome), outcome)
    lease.outcome, lease.ended_at = outcome.value, now


def fill(slot: AssignmentRow, lease: LeaseRow, now: datetime, answer_id: int | None) -> None:
    """The lease's work is in: the slot is answered and the lease submitted."""
    check_slot_transition(SlotState(slot.state), SlotState.ANSWERED)
    slot.state, slot.expires_at = SlotState.ANSWERED.value, None
    if answer_id is not None:
        slot.answer_id = answer_id
    end(lease, LeaseOutcome.SUBMITTED, now)


def extend(lease: LeaseRow, slot: AssignmentRow, now: datetime, lease_seconds: float) -> bool:
    """Push a live lease's end to ``lease_seconds`` from now (never earlier than it was), on the
    lease and its slot alike. False, changing nothing, when the lease has ended, run out or lost
    its slot: a run-out lease is never revived (its slot may be someone else's by now)."""
    expires = as_utc(lease.expires_at)
    holds_slot = slot.state == SlotState.LEASED.value and slot.lease_id == lease.id
    if lease.outcome is not None or not is_live(expires, now) or not holds_slot:
        return False
    assert expires is not None  # is_live
    lease.expires_at = slot.expires_at = max(expires, lease_expiry(now, lease_seconds))
    return True


def give_back(lease: LeaseRow, slot: AssignmentRow | None, now: datetime) -> None:
    """Release a lease; its slot goes back to the pool at once if the lease still holds it.
    Releasing twice, or after the lease ran out, changes nothing."""
    current = lease_outcome(lease.outcome)
    outcome = outcome_after_release(current)
    if outcome is not current:
        end(lease, outcome, now)
    if slot is not None and slot.state == SlotState.LEASED.value and slot.lease_id == lease.id:
        check_slot_transition(SlotState.LEASED, SlotState.OPEN)
        slot.state, slot.worker_id, slot.lease_id, slot.expires_at = (
            SlotState.OPEN.value, None, None, None,
        )  # fmt: skip
