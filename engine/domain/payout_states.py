"""Payout, batch and payout-method state machines (pure): the states and the moves allowed.

A payout is posted to the ledger first (``posted``: the money left the worker's available
balance for the provider's in-transit account), then sent. Sending can end three ways: the
provider accepted it (``submitted``), refused it at once (``failed``), or did not answer in
time (``unknown``: it may or may not have arrived; the same request is sent again with the
same idempotency key, or a status query or callback settles it). CSV payouts are ``exported``
and settle when the provider's result file is imported. ``confirmed`` and ``failed`` are final:
each posts the one ``payout-result:<payout id>`` entry.
"""

from __future__ import annotations

from enum import StrEnum


class PayoutState(StrEnum):
    POSTED = "posted"
    SUBMITTED = "submitted"
    UNKNOWN = "unknown"
    EXPORTED = "exported"
    CONFIRMED = "confirmed"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self in FINAL_PAYOUT_STATES

    def can_move_to(self, target: PayoutState) -> bool:
        return target in PAYOUT_MOVES[self]


FINAL_PAYOUT_STATES = frozenset({PayoutState.CONFIRMED, PayoutState.FAILED})
# A result may arrive before the send's own answer is recorded (a fast callback), so every
# open state may settle directly.
_SETTLE = {PayoutState.CONFIRMED, PayoutState.FAILED}
PAYOUT_MOVES: dict[PayoutState, frozenset[PayoutState]] = {
    PayoutState.POSTED: frozenset(
        {PayoutState.SUBMITTED, PayoutState.UNKNOWN, PayoutState.EXPORTED, *_SETTLE}
    ),
    PayoutState.UNKNOWN: frozenset({PayoutState.SUBMITTED, PayoutState.UNKNOWN, *_SETTLE}),
    PayoutState.SUBMITTED: frozenset(_SETTLE),
    PayoutState.EXPORTED: frozenset({PayoutState.EXPORTED, *_SETTLE}),
    PayoutState.CONFIRMED: frozenset(),
    PayoutState.FAILED: frozenset(),
}
# States a run sends (again): posted but never sent, or sent without a known answer.
RESEND_STATES = frozenset({PayoutState.POSTED, PayoutState.UNKNOWN})


class BatchState(StrEnum):
    OPEN = "open"  # payouts being posted and sent
    SENT = "sent"  # every payout sent (or exported); results outstanding
    CLOSED = "closed"  # every payout final

    def can_move_to(self, target: BatchState) -> bool:
        return target in BATCH_MOVES[self]


BATCH_MOVES: dict[BatchState, frozenset[BatchState]] = {
    BatchState.OPEN: frozenset({BatchState.SENT, BatchState.CLOSED}),
    BatchState.SENT: frozenset({BatchState.OPEN, BatchState.CLOSED}),  # OPEN: a resend
    BatchState.CLOSED: frozenset(),
}


def batch_state_for(payouts: list[PayoutState], all_sent: bool) -> BatchState:
    """What a batch is, from its payouts: closed when every one is final."""
    if all(p.final for p in payouts):
        return BatchState.CLOSED
    return BatchState.SENT if all_sent else BatchState.OPEN


class MethodState(StrEnum):
    PENDING = "pending"  # registered, waiting for its confirmation code
    CONFIRMED = "confirmed"  # payable
    LOCKED = "locked"  # too many wrong codes: register again
    REPLACED = "replaced"  # a newer method took its place

    def can_move_to(self, target: MethodState) -> bool:
        return target in METHOD_MOVES[self]


METHOD_MOVES: dict[MethodState, frozenset[MethodState]] = {
    MethodState.PENDING: frozenset(
        {MethodState.CONFIRMED, MethodState.LOCKED, MethodState.REPLACED}
    ),
    MethodState.CONFIRMED: frozenset({MethodState.REPLACED}),
    MethodState.LOCKED: frozenset({MethodState.REPLACED}),
    MethodState.REPLACED: frozenset(),
}
LIVE_METHOD_STATES = frozenset({MethodState.PENDING, MethodState.CONFIRMED, MethodState.LOCKED})


class StateMoveRefused(ValueError):
    """A move the state machine does not allow."""


def check_move(current: PayoutState, target: PayoutState) -> None:
    if not current.can_move_to(target):
        raise StateMoveRefused(f"a {current.value} payout cannot become {target.value}")
