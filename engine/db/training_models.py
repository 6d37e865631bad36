"""Training tables: practice and qualification items, trainees' answers to them and where each
trainee stands. Only the training repository and migrations import this module (migration 0013).

Training items are the engine's own, kept apart from client jobs: no client's gold answer is
ever a training item, so feedback that shows the expected answer reveals no client's gold."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.db.models import Base, utcnow


class TrainingItemRow(Base):
    __tablename__ = "training_items"
    __table_args__ = (
        CheckConstraint(
            "set_name IN ('practice', 'qualification')", name="ck_training_items_set_name"
        ),
        Index("ix_training_items_set_position", "set_name", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    set_name: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer)
    media_key: Mapped[str] = mapped_column(String(1024))
    # The small Opus copy of an audio item (what the light editor plays).
    lowres_media_key: Mapped[str | None] = mapped_column(String(1024), default=None)
    # What the staff member gave (a file name), for `kazi training list`.
    source_name: Mapped[str] = mapped_column(String(300), default="")
    expected: Mapped[dict[str, Any]] = mapped_column(JSON)
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrainingProgressRow(Base):
    """One row per worker who must train; workers without one are not gated."""

    __tablename__ = "training_progress"

    worker_id: Mapped[str] = mapped_column(
        ForeignKey("workers.id", ondelete="CASCADE"), primary_key=True
    )
    stage: Mapped[str] = mapped_column(String(20), default="not_started")
    practice_done: Mapped[int] = mapped_column(Integer, default=0)
    round: Mapped[int] = mapped_column(Integer, default=1)
    failed_rounds: Mapped[int] = mapped_column(Integer, default=0)
    last_score: Mapped[float | None] = mapped_column(Float, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    qualified_at: Mapped[datetime | None] = mapped_column(default=None)


class TrainingAttemptRow(Base):
    """One answer to a training item. ``client_id`` comes from the answer form, so a resent
    form finds its first answer instead of counting twice."""

    __tablename__ = "training_attempts"
    __table_args__ = (
        UniqueConstraint("worker_id", "client_id", name="uq_training_attempts_client"),
        Index("ix_training_attempts_worker_set_round", "worker_id", "set_name", "round"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    worker_id: Mapped[str] = mapped_column(ForeignKey("workers.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(
        ForeignKey("training_items.id", ondelete="CASCADE"), index=True
    )
    set_name: Mapped[str] = mapped_column(String(20))
    round: Mapped[int] = mapped_column(Integer)
    client_id: Mapped[str] = mapped_column(String(64))
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)
    score: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
