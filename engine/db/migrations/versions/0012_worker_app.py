"""worker app: login codes, sessions, failed-login counter

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 04:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _worker() -> sa.Column[str]:
    return sa.Column(
        "worker_id",
        sa.String(36),
        sa.ForeignKey("workers.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "app_login_codes",
        sa.Column("id", sa.String(36), primary_key=True),
        _worker(),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_app_login_codes_worker_id", "app_login_codes", ["worker_id"])
    op.create_table(
        "app_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        _worker(),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_app_sessions_worker_id", "app_sessions", ["worker_id"])
    op.create_table(
        "app_login_failures",
        sa.Column("source", sa.String(100), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("app_login_failures")
    op.drop_index("ix_app_sessions_worker_id", table_name="app_sessions")
    op.drop_table("app_sessions")
    op.drop_index("ix_app_login_codes_worker_id", table_name="app_login_codes")
    op.drop_table("app_login_codes")
