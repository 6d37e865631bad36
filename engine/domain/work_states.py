"""States of answer and review slots and of their leases, and the moves between them (pure).

A slot is one answer a task needs (purpose ``answer``, ``overlap`` per regular task, one per
worker on a gold task) or the one QA check of a task's result (purpose ``review``). A lease is
one worker's hold on a slot; work and review slots are leased by the same code
(engine/work/leasing.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class StateTransitionError(ValueError):
    pass


class SlotPurpose(StrEnum):
    ANSWER = "answer"
    REVIEW = "review"


class SlotState(StrEnum):
    OPEN = "open"
    LEASED = "leased"
    ANSWERED = "answered"


SLOT_TRANSITIONS: Mapping[SlotState, frozenset[SlotState]] = {
    SlotState.OPEN: frozenset({SlotState.LEASED}),
    # leased -> leased: a ran-out lease's slot taken by the next worker, or a late submit
    # taking its slot back; -> open: released or run out; -> answered: submitted.
    SlotState.LEASED: frozenset({SlotState.LEASED, SlotState.OPEN, SlotState.ANSWERED}),
    SlotState.ANSWERED: frozenset(),
}


def check_slot_transition(current: SlotState, target: SlotState) -> None:
    if target not in SLOT_TRANSITIONS[current]:
        raise StateTransitionError(f"a slot cannot go from {current.value!r} to {target.value!r}")


class LeaseOutcome(StrEnum):
    """How a lease ended; a lease still held has no outcome (None)."""

    SUBMITTED = "submitted"
    RELEASED = "released"
    EXPIRED = "expired"


LEASE_TRANSITIONS: Mapping[LeaseOutcome | None, frozenset[LeaseOutcome]] = {
    None: frozenset({LeaseOutcome.SUBMITTED, LeaseOutcome.RELEASED, LeaseOutcome.EXPIRED}),
    # A late submit still counts while the task needs the answer.
    LeaseOutcome.EXPIRED: frozenset({LeaseOutcome.SUBMITTED}),
    LeaseOutcome.SUBMITTED: frozenset(),
    LeaseOutcome.RELEASED: frozenset(),
}


def lease_outcome(value: str | None) -> LeaseOutcome | None:
    return None if value is None else LeaseOutcome(value)


def check_lease_transition(current: LeaseOutcome | None, target: LeaseOutcome) -> None:
    if target not in LEASE_TRANSITIONS[current]:
        held = "held" if current is None else current.value
        raise StateTransitionError(f"a lease cannot go from {held!r} to {target.value!r}")


def submit_refusal(current: LeaseOutcome | None) -> str | None:
    """Why a submit on a lease in this state is refused, or None when it may go ahead."""
    if current is LeaseOutcome.SUBMITTED:
        return "this lease was submitted already; send a new client_answer_id only for new work"
    if current is LeaseOutcome.RELEASED:
        return "this lease was released; lease the task again to answer it"
    return None


def outcome_after_release(current: LeaseOutcome | None) -> LeaseOutcome:
    """The lease's outcome once its holder releases it: releasing twice, or a lease that ran
    out, changes nothing; a submitted lease cannot be released (StateTransitionError)."""
    if current is LeaseOutcome.SUBMITTED:
        raise StateTransitionError("this lease was submitted; there is nothing to release")
    return LeaseOutcome.RELEASED if current is None else current
