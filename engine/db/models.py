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
    text,
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
    __table_args__ = (
        UniqueConstraint("source_id", "seq", name="uq_tasks_source_seq"),
        # Gold lookups run on every lease; most jobs have few or no gold tasks.
        Index(
            "ix_tasks_gold",
            "job_id",
            postgresql_where=text("is_gold"),
            sqlite_where=text("is_gold"),
        ),
    )

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
    # Gold tasks carry a known answer; workers cannot tell them from the others.
    is_gold: Mapped[bool] = mapped_column(default=False)
    gold_answer: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
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


class WorkerRow(Base):
    """A trainee, qualified worker or reviewer of the programme (not tied to one client)."""

    __tablename__ = "workers"
    __table_args__ = (UniqueConstraint("ls_server", "ls_user_id", name="uq_workers_ls_user"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    handle: Mapped[str] = mapped_column(String(100), unique=True)
    tier: Mapped[str] = mapped_column(String(20), default="trainee")
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | paused
    # Only stored when the worker consented; used for fairness reporting, never for routing.
    demographics: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    key_prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    # The Label Studio server the worker's login is on (engine/publishing/ls_server.py).
    ls_server: Mapped[str | None] = mapped_column(String(200), default=None)
    ls_user_id: Mapped[int | None] = mapped_column(Integer, default=None)
    ls_email: Mapped[str | None] = mapped_column(String(200), default=None)
    # The worker's own Label Studio token (the free edition cannot read it back later).
    ls_token: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AssignmentRow(Base):
    """One answer slot of a task. Regular tasks get ``overlap`` slots (replica 0..n-1), made when
    the job is published; gold tasks get one slot per worker, made when it is leased."""

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("task_id", "replica", name="uq_assignments_task_replica"),
        Index("ix_assignments_job_state", "job_id", "state"),
        # Leasing scans only answer slots not yet answered, in id order, and stops at the first
        # free one (LIMIT 1 ... SKIP LOCKED): this index keeps that scan short.
        Index(
            "ix_assignments_unanswered",
            "job_id",
            "id",
            postgresql_where=text("purpose = 'answer' AND state <> 'answered'"),
            sqlite_where=text("purpose = 'answer' AND state <> 'answered'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    replica: Mapped[int | None] = mapped_column(Integer, default=None)  # None: a gold slot
    # answer: a worker's answer; review: a QA reviewer's check of the task's result.
    purpose: Mapped[str] = mapped_column(String(10), default="answer", server_default="answer")
    state: Mapped[str] = mapped_column(String(20), default="open")  # open | leased | answered
    worker_id: Mapped[str | None] = mapped_column(
        ForeignKey("workers.id", ondelete="SET NULL"), default=None, index=True
    )
    lease_id: Mapped[str | None] = mapped_column(String(36), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    answer_id: Mapped[int | None] = mapped_column(Integer, default=None)


class LeaseRow(Base):
    """Every lease ever handed out, so a late or repeated submit can be judged."""

    __tablename__ = "leases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    worker_id: Mapped[str] = mapped_column(ForeignKey("workers.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # api | label_studio
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    # submitted | released | expired
    outcome: Mapped[str | None] = mapped_column(String(20), default=None)


class AnswerRow(Base):
    """One worker's answer to one task (a worker answers a task at most once)."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("task_id", "worker_id", name="uq_answers_task_worker"),
        UniqueConstraint("worker_id", "client_answer_id", name="uq_answers_client_id"),
        Index("ix_answers_job", "job_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    worker_id: Mapped[str] = mapped_column(ForeignKey("workers.id", ondelete="CASCADE"))
    assignment_id: Mapped[int | None] = mapped_column(Integer, default=None)
    lease_id: Mapped[str | None] = mapped_column(String(36), default=None)
    replica: Mapped[int | None] = mapped_column(Integer, default=None)
    is_gold: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(20))  # api | label_studio
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    time_spent_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    client_answer_id: Mapped[str | None] = mapped_column(String(100), default=None)
    # Unique only with its server's task (label_studio_sync looks it up with the task).
    ls_annotation_id: Mapped[int | None] = mapped_column(Integer, index=True, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RefusedAnnotationRow(Base):
    """A Label Studio annotation the engine did not count, kept with why (never silently lost)."""

    __tablename__ = "refused_annotations"

    ls_server: Mapped[str] = mapped_column(String(200), primary_key=True, default="")
    ls_annotation_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ls_project_id: Mapped[int] = mapped_column(Integer)
    task_id: Mapped[str | None] = mapped_column(String(36), default=None)
    worker_id: Mapped[str | None] = mapped_column(String(36), default=None)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LabelStudioProjectRow(Base):
    __tablename__ = "label_studio_projects"
    __table_args__ = (
        UniqueConstraint("ls_server", "job_id", "role", "replica", name="uq_ls_projects_job"),
    )

    ls_server: Mapped[str] = mapped_column(String(200), primary_key=True, default="")
    ls_project_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))  # work | review
    replica: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LabelStudioTaskRow(Base):
    __tablename__ = "label_studio_tasks"
    __table_args__ = (
        UniqueConstraint("ls_server", "ls_project_id", "task_id", name="uq_ls_tasks_project"),
    )

    ls_server: Mapped[str] = mapped_column(String(200), primary_key=True, default="")
    ls_task_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ls_project_id: Mapped[int] = mapped_column(Integer, index=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    replica: Mapped[int] = mapped_column(Integer, default=0)


class TaskResultRow(Base):
    """The merged result of a task: consensus first, final after review (or as is)."""

    __tablename__ = "task_results"

    task_id: Mapped[str] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    consensus: Mapped[dict[str, Any]] = mapped_column(JSON)
    final: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    agreement: Mapped[float] = mapped_column(Float)
    # Per word (text) or per box agreement, for deliverables and the labeling UI.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    answers: Mapped[int] = mapped_column(Integer)
    # consensus | in_review | final | unanswered
    status: Mapped[str] = mapped_column(String(20))
    review_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # consensus | review
    final_source: Mapped[str | None] = mapped_column(String(20), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AnswerScoreRow(Base):
    """How one answer scored against its reference (gold, consensus or the reviewed result)."""

    __tablename__ = "answer_scores"

    answer_id: Mapped[int] = mapped_column(
        ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True
    )
    worker_id: Mapped[str] = mapped_column(ForeignKey("workers.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    against: Mapped[str] = mapped_column(String(20))  # gold | consensus | review
    score: Mapped[float] = mapped_column(Float)
    wer: Mapped[float | None] = mapped_column(Float, default=None)
    cer: Mapped[float | None] = mapped_column(Float, default=None)
    correct: Mapped[bool | None] = mapped_column(default=None)
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewRow(Base):
    """A QA reviewer's decision on a task's result."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), unique=True, index=True
    )
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("workers.id", ondelete="CASCADE"))
    decision: Mapped[str] = mapped_column(String(20))  # accepted | corrected
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(20))  # api | label_studio
    client_review_id: Mapped[str | None] = mapped_column(String(100), default=None)
    ls_annotation_id: Mapped[int | None] = mapped_column(Integer, unique=True, default=None)
    time_spent_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeliverableRow(Base):
    """A file delivered to the client; assembling again replaces it (one row per name)."""

    __tablename__ = "deliverables"
    __table_args__ = (UniqueConstraint("job_id", "name", name="uq_deliverables_job_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(40))  # transcript | subtitles | dataset | report
    content_type: Mapped[str] = mapped_column(String(100))
    object_key: Mapped[str] = mapped_column(String(1024))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxRow(Base):
    """A pipeline message written in the same transaction as the change that caused it; the
    relay sends it to the broker and stamps ``sent_at`` (see engine/pipeline/relay.py)."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_pending",
            "id",
            postgresql_where=text("sent_at IS NULL"),
            sqlite_where=text("sent_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    task: Mapped[str] = mapped_column(String(100))
    queue: Mapped[str] = mapped_column(String(40))
    args: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class StageLeaseRow(Base):
    """Who is working on a job's current stage and when it last showed life; the beat requeues
    a stage whose heartbeat is older than ``stage_stall_seconds`` (engine/pipeline/stalls.py)."""

    __tablename__ = "stage_leases"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(40))
    holder: Mapped[str | None] = mapped_column(String(200), default=None)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    requeues: Mapped[int] = mapped_column(Integer, default=0)
