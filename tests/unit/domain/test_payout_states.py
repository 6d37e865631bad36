"""The payout, batch and method state machines."""

from __future__ import annotations

import pytest

from engine.domain.payout_states import (
    PAYOUT_MOVES,
    BatchState,
    MethodState,
    PayoutState,
    StateMoveRefused,
    batch_state_for,
    check_move,
)


def test_final_states_do_not_move() -> None:
    for final in (PayoutState.CONFIRMED, PayoutState.FAILED):
        assert final.final
        assert not PAYOUT_MOVES[final]
        with pytest.raises(StateMoveRefused):
            check_move(final, PayoutState.SUBMITTED)


@pytest.mark.parametrize(
    "state", [PayoutState.POSTED, PayoutState.UNKNOWN, PayoutState.SUBMITTED, PayoutState.EXPORTED]
)
def test_every_open_state_can_settle(state: PayoutState) -> None:
    assert state.can_move_to(PayoutState.CONFIRMED) and state.can_move_to(PayoutState.FAILED)


def test_submitted_is_not_sent_again() -> None:
    assert not PayoutState.SUBMITTED.can_move_to(PayoutState.UNKNOWN)
    assert not PayoutState.SUBMITTED.can_move_to(PayoutState.POSTED)


def test_batch_state() -> None:
    assert batch_state_for([PayoutState.CONFIRMED, PayoutState.FAILED], True) is BatchState.CLOSED
    assert batch_state_for([PayoutState.SUBMITTED], True) is BatchState.SENT
    assert batch_state_for([PayoutState.POSTED], False) is BatchState.OPEN
    assert batch_state_for([], True) is BatchState.CLOSED
    assert not BatchState.CLOSED.can_move_to(BatchState.OPEN)


def test_method_moves() -> None:
    assert MethodState.PENDING.can_move_to(MethodState.CONFIRMED)
    assert not MethodState.REPLACED.can_move_to(MethodState.CONFIRMED)
    assert not MethodState.LOCKED.can_move_to(MethodState.CONFIRMED)
