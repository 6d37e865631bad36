"""The ledger repository on SQLite and PostgreSQL: exactly-once posting, floors, balances, and
the rules the database itself holds (immutable journal, one currency per transfer)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from engine.domain.ledger import (
    AccountKind,
    AccountRef,
    TransactionKind,
    Transfer,
    cash,
    entry,
    reversal_of,
)
from engine.ledger.errors import IdempotencyConflict
from engine.ledger.repository import BelowFloor, LedgerRepository


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _accounts() -> tuple[AccountRef, AccountRef, AccountRef, AccountRef]:
    client, job, worker = _id("client"), _id("job"), _id("worker")
    return (
        AccountRef(AccountKind.CLIENT_FUNDS, client, "KES"),
        AccountRef(AccountKind.CLIENT_RESERVED, job, "KES"),
        AccountRef(AccountKind.WORKER_PENDING, worker, "KES"),
        AccountRef(AccountKind.WORKER_AVAILABLE, worker, "KES"),
    )


def test_post_is_exactly_once_per_key(sessions: sessionmaker[Session]) -> None:
    funds, reserved, pending, _ = _accounts()
    key = _id("earn:answer")
    earn = entry(key, TransactionKind.EARN, Transfer(reserved, pending, 1250))
    with sessions() as session:
        ledger = LedgerRepository(session)
        assert ledger.post(earn) is True
        assert ledger.post(earn) is False
        session.commit()
    with sessions() as session:
        ledger = LedgerRepository(session)
        assert ledger.post(earn) is False
        assert ledger.balance(pending) == 1250
        assert ledger.balance(reserved) == -1250  # no floor on a job reservation
        rows = session.execute(
            text("SELECT count(*) FROM journal_transactions WHERE idempotency_key = :k"), {"k": key}
        ).scalar_one()
        assert rows == 1
        stored = ledger.entry(key)
        assert stored is not None and stored.same_content(earn)


def test_same_key_other_content_is_a_conflict(sessions: sessionmaker[Session]) -> None:
    _, reserved, pending, _ = _accounts()
    key = _id("earn:answer")
    with sessions() as session:
        ledger = LedgerRepository(session)
        ledger.post(entry(key, TransactionKind.EARN, Transfer(reserved, pending, 100)))
        with pytest.raises(IdempotencyConflict) as raised:
            ledger.post(entry(key, TransactionKind.EARN, Transfer(reserved, pending, 101)))
        assert raised.value.status == 409
        assert ledger.balance(pending) == 100


def test_a_refused_post_leaves_nothing_and_the_transaction_usable(
    sessions: sessionmaker[Session],
) -> None:
    _, reserved, pending, available = _accounts()
    with sessions() as session:
        ledger = LedgerRepository(session)
        ledger.post(entry(_id("earn"), TransactionKind.EARN, Transfer(reserved, pending, 500)))
        key = _id("release")
        with pytest.raises(BelowFloor):
            ledger.post(entry(key, TransactionKind.RELEASE_HOLD, Transfer(pending, available, 501)))
        assert ledger.entry(key) is None
        assert ledger.balance(pending) == 500 and ledger.balance(available) == 0
        # The same transaction goes on: the refusal rolled back only its savepoint.
        assert ledger.post(
            entry(key, TransactionKind.RELEASE_HOLD, Transfer(pending, available, 500))
        )
        session.commit()
    with sessions() as session:
        ledger = LedgerRepository(session)
        assert ledger.balance(pending) == 0 and ledger.balance(available) == 500
        assert ledger.check().clean


def test_client_funds_start_at_floor_zero_and_a_credit_limit_lowers_it(
    sessions: sessionmaker[Session],
) -> None:
    funds, reserved, _, _ = _accounts()
    reserve = entry(_id("reserve"), TransactionKind.RESERVE, Transfer(funds, reserved, 300))
    with sessions() as session:
        ledger = LedgerRepository(session)
        cash_before = ledger.balance(cash("KES"))  # the one cash account is shared by tests
        ledger.post(entry(_id("topup"), TransactionKind.TOPUP, Transfer(cash("KES"), funds, 200)))
        with pytest.raises(BelowFloor):
            ledger.post(reserve)
        ledger.set_floor(funds, -100)
        assert ledger.post(reserve)
        assert ledger.balance(funds) == -100
        assert ledger.balance(cash("KES")) - cash_before == 200  # cash is debit-normal
        with pytest.raises(BelowFloor):  # the floor cannot rise above the balance
            ledger.set_floor(funds, 0)
        session.commit()


def test_floors_passed_to_post_are_stored(sessions: sessionmaker[Session]) -> None:
    funds, reserved, _, _ = _accounts()
    with sessions() as session:
        ledger = LedgerRepository(session)
        ledger.post(
            entry(_id("reserve"), TransactionKind.RESERVE, Transfer(funds, reserved, 50)),
            floors={funds: -80},
        )
        state = ledger.account(funds)
        assert state is not None and (state.balance, state.floor) == (-50, -80)
        with pytest.raises(BelowFloor):
            ledger.post(
                entry(_id("reserve"), TransactionKind.RESERVE, Transfer(funds, reserved, 31))
            )


def test_balances_entries_and_reversals(sessions: sessionmaker[Session]) -> None:
    _, reserved, pending, available = _accounts()
    worker = pending.owner
    earn = entry(_id("earn"), TransactionKind.EARN, Transfer(reserved, pending, 700))
    with sessions() as session:
        ledger = LedgerRepository(session)
        ledger.post(earn)
        release = entry(
            _id("release"), TransactionKind.RELEASE_HOLD, Transfer(pending, available, 200)
        )
        ledger.post(release)
        assert ledger.balances_of(worker) == {pending: 500, available: 200}
        assert [p.entry.kind for p in ledger.entries_for(worker)] == [
            TransactionKind.EARN,
            TransactionKind.RELEASE_HOLD,
        ]
        assert len(ledger.entries_for(available)) == 1
        # 200 of the 700 were released: undoing the earning first would break pending's floor.
        with pytest.raises(BelowFloor):
            ledger.post(reversal_of(earn))
        assert ledger.post(reversal_of(release))
        assert ledger.post(reversal_of(earn))
        assert ledger.balances_of(worker) == {pending: 0, available: 0}
        reversed_ = ledger.entry(f"reverse:{earn.idempotency_key}")
        assert reversed_ is not None and reversed_.reverses == earn.idempotency_key
        assert ledger.check().clean


def test_ledger_check_finds_a_tampered_balance_row(sessions: sessionmaker[Session]) -> None:
    _, reserved, pending, _ = _accounts()
    with sessions() as session:
        ledger = LedgerRepository(session)
        ledger.post(entry(_id("earn"), TransactionKind.EARN, Transfer(reserved, pending, 90)))
        assert ledger.check().clean
        session.execute(
            text("UPDATE ledger_accounts SET credits_posted = credits_posted + 1 "
                 "WHERE owner = :o"), {"o": pending.owner},
        )  # fmt: skip
        report = ledger.check()
        assert not report.clean
        assert any(pending.owner in d for d in report.differences)
        session.rollback()


@pytest.mark.parametrize("table", ["journal_transactions", "journal_transfers"])
@pytest.mark.parametrize("statement", ["UPDATE {table} SET id = id", "DELETE FROM {table}"])
def test_the_journal_refuses_update_and_delete(
    sessions: sessionmaker[Session], table: str, statement: str
) -> None:
    _, reserved, pending, _ = _accounts()
    with sessions() as session:
        LedgerRepository(session).post(
            entry(_id("earn"), TransactionKind.EARN, Transfer(reserved, pending, 10))
        )
        session.flush()
        with pytest.raises(DBAPIError, match="immutable"):
            session.execute(text(statement.format(table=table)))
        session.rollback()


def _raw_transfer(session: Session, debit: int, credit: int, currency: str, amount: int) -> None:
    transaction_id = session.execute(
        text(
            "INSERT INTO journal_transactions (idempotency_key, kind, memo, cause, posted_at) "
            "VALUES (:k, 'earn', '', '{}', CURRENT_TIMESTAMP) RETURNING id"
        ),
        {"k": _id("raw")},
    ).scalar_one()
    session.execute(
        text(
            "INSERT INTO journal_transfers (transaction_id, debit_account_id, credit_account_id,"
            " currency, amount) VALUES (:t, :d, :c, :cur, :a)"
        ),
        {"t": transaction_id, "d": debit, "c": credit, "cur": currency, "a": amount},
    )


def _account_id(session: Session, ref: AccountRef) -> int:
    return int(
        session.execute(
            text("SELECT id FROM ledger_accounts WHERE kind = :k AND owner = :o AND currency = :c"),
            {"k": ref.kind.value, "o": ref.owner, "c": ref.currency},
        ).scalar_one()
    )


@pytest.mark.parametrize(
    "case",
    ["other currency on the credit leg", "zero amount", "negative amount", "same account"],
)
def test_the_database_refuses_a_transfer_that_breaks_the_rules(
    sessions: sessionmaker[Session], case: str
) -> None:
    _, reserved, pending, _ = _accounts()
    ugx = AccountRef(AccountKind.WORKER_PENDING, pending.owner, "UGX")
    with sessions() as session:
        ledger = LedgerRepository(session)
        ledger.post(entry(_id("earn"), TransactionKind.EARN, Transfer(reserved, pending, 10)))
        ledger.post(
            entry(_id("earn"), TransactionKind.EARN,
                  Transfer(AccountRef(AccountKind.CLIENT_RESERVED, reserved.owner, "UGX"), ugx, 5))
        )  # fmt: skip
        kes_debit, kes_credit = _account_id(session, reserved), _account_id(session, pending)
        args = {
            "other currency on the credit leg": (kes_debit, _account_id(session, ugx), "KES", 5),
            "zero amount": (kes_debit, kes_credit, "KES", 0),
            "negative amount": (kes_debit, kes_credit, "KES", -5),
            "same account": (kes_debit, kes_debit, "KES", 5),
        }[case]
        with pytest.raises(IntegrityError):
            _raw_transfer(session, *args)
        session.rollback()


def test_the_database_refuses_a_balance_row_below_its_floor(
    sessions: sessionmaker[Session],
) -> None:
    _, reserved, pending, _ = _accounts()
    with sessions() as session:
        LedgerRepository(session).post(
            entry(_id("earn"), TransactionKind.EARN, Transfer(reserved, pending, 10))
        )
        with pytest.raises(IntegrityError):
            session.execute(
                text("UPDATE ledger_accounts SET debits_posted = 11 WHERE id = :i"),
                {"i": _account_id(session, pending)},
            )
        session.rollback()


def test_post_many_posts_each_key_once_with_one_update_per_account(
    sessions: sessionmaker[Session],
) -> None:
    _, reserved, pending, available = _accounts()
    other = AccountRef(AccountKind.WORKER_PENDING, _id("worker"), "KES")
    keys = [_id("earn:answer") for _ in range(5)]
    earns = [
        entry(k, TransactionKind.EARN, Transfer(reserved, pending if i % 2 else other, 100 + i))
        for i, k in enumerate(keys)
    ]
    release = entry(_id("release"), TransactionKind.RELEASE_HOLD, Transfer(pending, available, 50))
    with sessions() as session:
        ledger = LedgerRepository(session)
        assert ledger.post(earns[0])
        # Already posted, a duplicate inside the batch, and one that needs its floor checked.
        batch = [earns[0], *earns[1:], earns[3], release]
        assert ledger.post_many(batch) == [False, True, True, True, True, False, True]
        assert ledger.balance(pending) == 101 + 103 - 50 and ledger.balance(available) == 50
        assert ledger.balance(other) == 100 + 102 + 104
        assert ledger.post_many(batch) == [False] * len(batch)
        with pytest.raises(IdempotencyConflict):
            ledger.post_many([entry(keys[1], TransactionKind.EARN, Transfer(reserved, other, 1))])
        session.commit()
    with sessions() as session:
        assert LedgerRepository(session).check().clean
