"""SQLAlchemy 2.x tables. Only repositories and migrations import this module."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class ClientRow(Base):
    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    api_keys: Mapped[list[ApiKeyRow]] = relationship(back_populates="client")


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    # The key's public prefix identifies it; only a hash of the whole key is stored.
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    client: Mapped[ClientRow] = relationship(back_populates="api_keys")


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_client_created", "client_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    stage: Mapped[str] = mapped_column(String(40), index=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class JobStageEventRow(Base):
    __tablename__ = "job_stage_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text, default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class SourceMediaRow(Base):
    __tablename__ = "source_media"
    __table_args__ = (UniqueConstraint("job_id", "sha256", name="uq_source_media_job_sha"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(512))
    object_key: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(20))  # "audio" | "image"
    content_type: Mapped[str] = mapped_column(String(100))
    duration_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    sample_rate: Mapped[int | None] = mapped_column(Integer, default=None)
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    status: Mapped[str] = mapped_column(String(20), default="stored")  # stored | split | failed
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TaskRow(Base):
    __tablename__ = "tasks"
    # Splitting is idempotent because a (source, seq) pair can exist only once.
    __table_args__ = (UniqueConstraint("source_id", "seq", name="uq_tasks_source_seq"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("source_media.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # audio_segment | image | image_tile
    object_key: Mapped[str] = mapped_column(String(1024))
    lowres_object_key: Mapped[str | None] = mapped_column(String(1024), default=None)
    start_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    end_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    box_x: Mapped[int | None] = mapped_column(Integer, default=None)
    box_y: Mapped[int | None] = mapped_column(Integer, default=None)
    box_w: Mapped[int | None] = mapped_column(Integer, default=None)
    box_h: Mapped[int | None] = mapped_column(Integer, default=None)
    has_speech: Mapped[bool | None] = mapped_column(default=None)
    hard_cut: Mapped[bool | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(20), default="ready")
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DraftRow(Base):
    """A machine draft of one audio task; drafts of several model versions live side by side."""

    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("task_id", "model_version", name="uq_drafts_task_model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    model_version: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    words: Mapped[list[Any]] = mapped_column(JSON)
    avg_logprob: Mapped[float | None] = mapped_column(Float, default=None)
    low_confidence_words: Mapped[int] = mapped_column(Integer, default=0)
    object_key: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
