"""The ledger's tables: accounts with maintained balances, immutable journal transactions and
their transfers, and earning disputes. Only the ledger/earnings repositories and migrations
import this module.

The database holds the ledger's rules, not only Python (migration 0008):
- a transfer has one ``currency`` and both legs point at (account id, currency) through composite
  foreign keys, so both accounts share it and every transaction nets to zero per currency;
- ``amount > 0`` and ``debit <> credit``;
- an account's balance on its normal side never goes below its ``floor`` (CHECK);
- triggers refuse UPDATE and DELETE on the journal tables: corrections are reversing entries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.db.models import Base, utcnow

LedgerId = BigInteger().with_variant(Integer(), "sqlite")

# The balance on the account's normal side (CASH is debit-normal, everything else credit-normal).
NORMAL_BALANCE_SQL = (
    "CASE WHEN kind = 'cash' THEN debits_posted - credits_posted "
    "ELSE credits_posted - debits_posted END"
)


class LedgerAccountRow(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("kind", "owner", "currency", name="uq_ledger_accounts_ref"),
        # The target of the transfers' composite foreign keys (both legs share a currency).
        UniqueConstraint("id", "currency", name="uq_ledger_accounts_id_currency"),
        CheckConstraint(
            f"floor IS NULL OR ({NORMAL_BALANCE_SQL}) >= floor", name="ck_ledger_accounts_floor"
        ),
        CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0", name="ck_ledger_accounts_posted"
        ),
        Index("ix_ledger_accounts_owner", "owner"),
    )

    id: Mapped[int] = mapped_column(LedgerId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    owner: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    floor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JournalTransactionRow(Base):
    __tablename__ = "journal_transactions"
    __table_args__ = (Index("ix_journal_transactions_posted_at", "posted_at"),)

    id: Mapped[int] = mapped_column(LedgerId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    memo: Mapped[str] = mapped_column(Text, default="")
    reverses: Mapped[str | None] = mapped_column(String(200), default=None)
    cause: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    posted_at: Mapped[datetime] = mapped_column(default=utcnow)


class JournalTransferRow(Base):
    __tablename__ = "journal_transfers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["debit_account_id", "currency"],
            ["ledger_accounts.id", "ledger_accounts.currency"],
            name="fk_journal_transfers_debit",
        ),
        ForeignKeyConstraint(
            ["credit_account_id", "currency"],
            ["ledger_accounts.id", "ledger_accounts.currency"],
            name="fk_journal_transfers_credit",
        ),
        CheckConstraint("amount > 0", name="ck_journal_transfers_amount"),
        CheckConstraint(
            "debit_account_id <> credit_account_id", name="ck_journal_transfers_two_accounts"
        ),
        Index("ix_journal_transfers_transaction", "transaction_id"),
        Index("ix_journal_transfers_debit", "debit_account_id"),
        Index("ix_journal_transfers_credit", "credit_account_id"),
    )

    id: Mapped[int] = mapped_column(LedgerId, primary_key=True, autoincrement=True)
    transaction_id: Mapped[int] = mapped_column(
        LedgerId, ForeignKey("journal_transactions.id", name="fk_journal_transfers_transaction")
    )
    debit_account_id: Mapped[int] = mapped_column(LedgerId)
    credit_account_id: Mapped[int] = mapped_column(LedgerId)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)


class EarningDisputeRow(Base):
    """A worker's dispute of a rejected answer: once per answer, decided by a reviewer."""

    __tablename__ = "earning_disputes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    answer_id: Mapped[int] = mapped_column(
        ForeignKey("answers.id", ondelete="CASCADE"), unique=True
    )
    worker_id: Mapped[str] = mapped_column(ForeignKey("workers.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str] = mapped_column(String(36), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    # The earning the overturn posts (and the hold release waits on while the dispute is open).
    earn_key: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | overturned | upheld
    decided_by: Mapped[str | None] = mapped_column(String(36), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
