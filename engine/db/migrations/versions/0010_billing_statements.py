"""billing_statements

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_billing",
        sa.Column(
            "job_id",
            sa.String(36),
            sa.ForeignKey("jobs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("client_id", sa.String(36), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("fee_bps", sa.Integer(), nullable=False),
        sa.Column("quoted_minor", sa.BigInteger(), nullable=False),
        sa.Column("quote", sa.JSON(), nullable=False),
        sa.Column("funded_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("fee_bps >= 0 AND fee_bps <= 10000", name="ck_job_billing_fee_bps"),
        sa.CheckConstraint("quoted_minor >= 0", name="ck_job_billing_quoted"),
    )
    op.create_index("ix_job_billing_client_id", "job_billing", ["client_id"])


def downgrade() -> None:
    op.drop_index("ix_job_billing_client_id", table_name="job_billing")
    op.drop_table("job_billing")
