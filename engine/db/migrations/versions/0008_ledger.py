"""ledger

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

LedgerId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NORMAL_BALANCE_SQL = (
    "CASE WHEN kind = 'cash' THEN debits_posted - credits_posted "
    "ELSE credits_posted - debits_posted END"
)
JOURNAL_TABLES = ("journal_transactions", "journal_transfers")
IMMUTABLE_MESSAGE = "journal rows are immutable: post a reversing entry"


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", LedgerId, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("floor", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("kind", "owner", "currency", name="uq_ledger_accounts_ref"),
        sa.UniqueConstraint("id", "currency", name="uq_ledger_accounts_id_currency"),
        sa.CheckConstraint(
            f"floor IS NULL OR ({NORMAL_BALANCE_SQL}) >= floor", name="ck_ledger_accounts_floor"
        ),
        sa.CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0", name="ck_ledger_accounts_posted"
        ),
    )
    op.create_index("ix_ledger_accounts_owner", "ledger_accounts", ["owner"])
    op.create_table(
        "journal_transactions",
        sa.Column("id", LedgerId, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("reverses", sa.String(200), nullable=True),
        sa.Column("cause", sa.JSON(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_journal_transactions_posted_at", "journal_transactions", ["posted_at"])
    op.create_table(
        "journal_transfers",
        sa.Column("id", LedgerId, primary_key=True, autoincrement=True),
        sa.Column(
            "transaction_id",
            LedgerId,
            sa.ForeignKey("journal_transactions.id", name="fk_journal_transfers_transaction"),
            nullable=False,
        ),
        sa.Column("debit_account_id", LedgerId, nullable=False),
        sa.Column("credit_account_id", LedgerId, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["debit_account_id", "currency"],
            ["ledger_accounts.id", "ledger_accounts.currency"],
            name="fk_journal_transfers_debit",
        ),
        sa.ForeignKeyConstraint(
            ["credit_account_id", "currency"],
            ["ledger_accounts.id", "ledger_accounts.currency"],
            name="fk_journal_transfers_credit",
        ),
        sa.CheckConstraint("amount > 0", name="ck_journal_transfers_amount"),
        sa.CheckConstraint(
            "debit_account_id <> credit_account_id", name="ck_journal_transfers_two_accounts"
        ),
    )
    op.create_index("ix_journal_transfers_transaction", "journal_transfers", ["transaction_id"])
    op.create_index("ix_journal_transfers_debit", "journal_transfers", ["debit_account_id"])
    op.create_index("ix_journal_transfers_credit", "journal_transfers", ["credit_account_id"])
    op.create_table(
        "earning_disputes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "answer_id",
            sa.Integer(),
            sa.ForeignKey("answers.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column(
            "worker_id",
            sa.String(36),
            sa.ForeignKey("workers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("earn_key", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("decided_by", sa.String(36), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_earning_disputes_worker_id", "earning_disputes", ["worker_id"])
    op.create_index("ix_earning_disputes_job_id", "earning_disputes", ["job_id"])
    _immutable_journal()


def _immutable_journal() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{IMMUTABLE_MESSAGE} (%)', TG_TABLE_NAME "
            "USING ERRCODE = 'restrict_violation'; END $$"
        )
        for table in JOURNAL_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"
            )
        return
    for table in JOURNAL_TABLES:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{IMMUTABLE_MESSAGE}'); END"
            )


def downgrade() -> None:
    # Dropping a table drops its triggers (no row trigger fires on DROP TABLE).
    op.drop_index("ix_earning_disputes_job_id", table_name="earning_disputes")
    op.drop_index("ix_earning_disputes_worker_id", table_name="earning_disputes")
    op.drop_table("earning_disputes")
    op.drop_index("ix_journal_transfers_credit", table_name="journal_transfers")
    op.drop_index("ix_journal_transfers_debit", table_name="journal_transfers")
    op.drop_index("ix_journal_transfers_transaction", table_name="journal_transfers")
    op.drop_table("journal_transfers")
    op.drop_index("ix_journal_transactions_posted_at", table_name="journal_transactions")
    op.drop_table("journal_transactions")
    op.drop_index("ix_ledger_accounts_owner", table_name="ledger_accounts")
    op.drop_table("ledger_accounts")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ledger_refuse_change()")
