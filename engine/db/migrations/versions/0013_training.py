"""training: practice and qualification items, attempts, each trainee's progress

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _worker_id(primary_key: bool = False) -> sa.Column[str]:
    return sa.Column(
        "worker_id",
        sa.String(36),
        sa.ForeignKey("workers.id", ondelete="CASCADE"),
        nullable=False,
        primary_key=primary_key,
    )


def upgrade() -> None:
    op.create_table(
        "training_items",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("set_name", sa.String(20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("media_key", sa.String(1024), nullable=False),
        sa.Column("lowres_media_key", sa.String(1024), nullable=True),
        sa.Column("source_name", sa.String(300), nullable=False),
        sa.Column("expected", sa.JSON(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "set_name IN ('practice', 'qualification')", name="ck_training_items_set_name"
        ),
    )
    op.create_index("ix_training_items_set_position", "training_items", ["set_name", "position"])
    op.create_table(
        "training_progress",
        _worker_id(primary_key=True),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("practice_done", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("failed_rounds", sa.Integer(), nullable=False),
        sa.Column("last_score", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("qualified_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "training_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _worker_id(),
        sa.Column(
            "item_id",
            sa.Integer(),
            sa.ForeignKey("training_items.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("set_name", sa.String(20), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("worker_id", "client_id", name="uq_training_attempts_client"),
    )
    op.create_index("ix_training_attempts_item_id", "training_attempts", ["item_id"])
    op.create_index(
        "ix_training_attempts_worker_set_round",
        "training_attempts",
        ["worker_id", "set_name", "round"],
    )


def downgrade() -> None:
    op.drop_index("ix_training_attempts_worker_set_round", table_name="training_attempts")
    op.drop_index("ix_training_attempts_item_id", table_name="training_attempts")
    op.drop_table("training_attempts")
    op.drop_table("training_progress")
    op.drop_index("ix_training_items_set_position", table_name="training_items")
    op.drop_table("training_items")
