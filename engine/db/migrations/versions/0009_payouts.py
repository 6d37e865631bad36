"""payouts

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OPEN_PAYOUT = "state NOT IN ('confirmed', 'failed')"
LIVE_METHOD = "state <> 'replaced'"


def _when() -> sa.Column[Any]:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "payout_methods",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "worker_id",
            sa.String(36),
            sa.ForeignKey("workers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("msisdn_sealed", sa.Text(), nullable=False),
        sa.Column("msisdn_masked", sa.String(40), nullable=False),
        sa.Column("account_name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("code_sealed", sa.Text(), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_attempts", sa.Integer(), nullable=False),
        sa.Column("hold_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replaces_id", sa.String(36), nullable=True),
        _when(),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_payout_methods_worker_id", "payout_methods", ["worker_id"])
    op.create_index(
        "uq_payout_methods_live",
        "payout_methods",
        ["worker_id"],
        unique=True,
        postgresql_where=sa.text(LIVE_METHOD),
        sqlite_where=sa.text(LIVE_METHOD),
    )
    op.create_table(
        "payout_batches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("provider", sa.String(40), nullable=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("min_minor", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        _when(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_payout_batches_state", "payout_batches", ["state"])
    op.create_table(
        "payouts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "batch_id",
            sa.String(36),
            sa.ForeignKey("payout_batches.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "worker_id",
            sa.String(36),
            sa.ForeignKey("workers.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "method_id",
            sa.String(36),
            sa.ForeignKey("payout_methods.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("gross_minor", sa.BigInteger(), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("benefits_minor", sa.BigInteger(), nullable=False),
        sa.Column("match_minor", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("provider_reference", sa.String(100), nullable=True),
        sa.Column("provider_transaction", sa.String(100), nullable=True),
        sa.Column("result_code", sa.String(40), nullable=True),
        sa.Column("result_detail", sa.Text(), nullable=True),
        sa.Column("send_attempts", sa.Integer(), nullable=False),
        sa.Column("sending_until", sa.DateTime(timezone=True), nullable=True),
        _when(),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("batch_id", "worker_id", name="uq_payouts_batch_worker"),
    )
    op.create_index("ix_payouts_batch_id", "payouts", ["batch_id"])
    op.create_index("ix_payouts_state", "payouts", ["state"])
    op.create_index("ix_payouts_provider_reference", "payouts", ["provider_reference"])
    op.create_index(
        "uq_payouts_open_per_worker",
        "payouts",
        ["worker_id", "currency", "source"],
        unique=True,
        postgresql_where=sa.text(OPEN_PAYOUT),
        sqlite_where=sa.text(OPEN_PAYOUT),
    )
    op.create_table(
        "payout_callbacks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("payout_id", sa.String(36), nullable=True),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_payout_callbacks_payout_id", "payout_callbacks", ["payout_id"])
    op.create_table(
        "staff_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("key_prefix", sa.String(32), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        _when(),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("staff_keys")
    op.drop_index("ix_payout_callbacks_payout_id", table_name="payout_callbacks")
    op.drop_table("payout_callbacks")
    op.drop_index("uq_payouts_open_per_worker", table_name="payouts")
    op.drop_index("ix_payouts_provider_reference", table_name="payouts")
    op.drop_index("ix_payouts_state", table_name="payouts")
    op.drop_index("ix_payouts_batch_id", table_name="payouts")
    op.drop_table("payouts")
    op.drop_index("ix_payout_batches_state", table_name="payout_batches")
    op.drop_table("payout_batches")
    op.drop_index("uq_payout_methods_live", table_name="payout_methods")
    op.drop_index("ix_payout_methods_worker_id", table_name="payout_methods")
    op.drop_table("payout_methods")
