"""The pure ledger rules: transfers, entries, reversals, floors, idempotency keys."""

from __future__ import annotations

import pytest

from engine.domain.ledger import (
    AccountKind,
    AccountRef,
    LedgerError,
    TransactionKind,
    Transfer,
    apply_entry,
    balance_change,
    cash,
    earn_answer_key,
    entry,
    payout_result_key,
    release_hold_key,
    reversal_of,
)

RESERVED = AccountRef(AccountKind.CLIENT_RESERVED, "job1", "KES")
PENDING = AccountRef(AccountKind.WORKER_PENDING, "w1", "KES")
FUNDS = AccountRef(AccountKind.CLIENT_FUNDS, "c1", "KES")


@pytest.mark.parametrize(
    ("debit", "credit", "amount"),
    [(RESERVED, PENDING, 0), (RESERVED, PENDING, -5), (RESERVED, RESERVED, 5),
     (RESERVED, AccountRef(AccountKind.WORKER_PENDING, "w1", "UGX"), 5), (RESERVED, PENDING, 1.5)],
)  # fmt: skip
def test_a_transfer_moves_a_positive_whole_amount_between_two_accounts_of_one_currency(
    debit,
    credit,
    amount,  # type: ignore[no-untyped-def]
) -> None:
    with pytest.raises(LedgerError):
        Transfer(debit, credit, amount)


def test_balances_are_credit_normal_except_cash() -> None:
    topup = entry("topup:c1:r", TransactionKind.TOPUP, Transfer(cash("KES"), FUNDS, 1000))
    assert balance_change(topup) == {cash("KES"): 1000, FUNDS: 1000}


def test_a_reversal_undoes_an_entry_and_names_it() -> None:
    earn = entry(earn_answer_key(4), TransactionKind.EARN, Transfer(RESERVED, PENDING, 700),
                 cause={"answer_id": 4})  # fmt: skip
    undo = reversal_of(earn)
    assert (undo.idempotency_key, undo.reverses) == ("reverse:earn:answer:4", "earn:answer:4")
    after = apply_entry(apply_entry({}, earn), undo)
    assert all(v == 0 for v in after.values())
    same = entry(earn.idempotency_key, TransactionKind.EARN, Transfer(RESERVED, PENDING, 700),
                 memo="other memo")  # fmt: skip
    assert earn.same_content(same)
    assert not earn.same_content(undo)


def test_floors_refuse_an_overdraft_but_not_a_credit() -> None:
    earn = entry("e", TransactionKind.EARN, Transfer(RESERVED, PENDING, 100))
    balances = apply_entry({}, earn)  # the reservation has no floor
    assert balances[RESERVED] == -100
    with pytest.raises(LedgerError):
        apply_entry(balances, entry("x", TransactionKind.RELEASE_HOLD, Transfer(
            PENDING, AccountRef(AccountKind.WORKER_AVAILABLE, "w1", "KES"), 101)))  # fmt: skip
    with pytest.raises(LedgerError):
        apply_entry({}, entry("r", TransactionKind.RESERVE, Transfer(FUNDS, RESERVED, 1)),
                    floors={FUNDS: 0})  # fmt: skip


def test_keys_are_derived_from_their_cause() -> None:
    assert release_hold_key(earn_answer_key(9)) == "release:earn:answer:9"
    assert payout_result_key("p1") == "payout-result:p1"
    with pytest.raises(LedgerError):
        entry("", TransactionKind.EARN, Transfer(RESERVED, PENDING, 1))
    with pytest.raises(LedgerError):
        entry("k", TransactionKind.EARN)
