"""Tables of payouts and staff keys. Only repositories and migrations import this module.

Payout methods hold the worker's mobile number sealed with the data key (Fernet,
engine/workforce/token_cipher.py) and a masked copy for display; only the provider adapter
sees the number in clear.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.db.models import Base, utcnow

# Open payouts (not confirmed, not failed): a worker has at most one per currency and source,
# so two runs racing cannot both pay the same balance.
OPEN_PAYOUT = "state NOT IN ('confirmed', 'failed')"
LIVE_METHOD = "state <> 'replaced'"


class PayoutMethodRow(Base):
    __tablename__ = "payout_methods"
    __table_args__ = (
        Index(
            "uq_payout_methods_live",
            "worker_id",
            unique=True,
            postgresql_where=text(LIVE_METHOD),
            sqlite_where=text(LIVE_METHOD),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    worker_id: Mapped[str] = mapped_column(ForeignKey("workers.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(40))  # mpesa | mtn_momo | csv:<label>
    msisdn_sealed: Mapped[str] = mapped_column(Text)  # fernet:<token> of the E.164 number
    msisdn_masked: Mapped[str] = mapped_column(String(40))
    account_name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20))  # engine/domain/payout_states.py MethodState
    code_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    code_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    code_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Set when a confirmed method replaces an earlier one: no payout before this.
    hold_until: Mapped[datetime | None] = mapped_column(default=None)
    replaces_id: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    replaced_at: Mapped[datetime | None] = mapped_column(default=None)


class PayoutBatchRow(Base):
    __tablename__ = "payout_batches"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    provider: Mapped[str | None] = mapped_column(String(40), default=None)  # None: any
    source: Mapped[str] = mapped_column(String(20))  # available | benefits
    min_minor: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(20), index=True)  # BatchState
    requested_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PayoutRow(Base):
    __tablename__ = "payouts"
    __table_args__ = (
        UniqueConstraint("batch_id", "worker_id", name="uq_payouts_batch_worker"),
        Index(
            "uq_payouts_open_per_worker",
            "worker_id",
            "currency",
            "source",
            unique=True,
            postgresql_where=text(OPEN_PAYOUT),
            sqlite_where=text(OPEN_PAYOUT),
        ),
        Index("ix_payouts_state", "state"),
    )

    # Also the idempotency key sent to the provider (OriginatorConversationID, X-Reference-Id).
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    batch_id: Mapped[str] = mapped_column(
        ForeignKey("payout_batches.id", ondelete="RESTRICT"), index=True
    )
    worker_id: Mapped[str] = mapped_column(ForeignKey("workers.id", ondelete="RESTRICT"))
    method_id: Mapped[str] = mapped_column(ForeignKey("payout_methods.id", ondelete="RESTRICT"))
    provider: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    gross_minor: Mapped[int] = mapped_column(BigInteger)
    net_minor: Mapped[int] = mapped_column(BigInteger)
    benefits_minor: Mapped[int] = mapped_column(BigInteger)
    match_minor: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(20))  # PayoutState
    # The provider's ids: M-Pesa ConversationID / TransactionID, MoMo financialTransactionId.
    provider_reference: Mapped[str | None] = mapped_column(String(100), default=None, index=True)
    provider_transaction: Mapped[str | None] = mapped_column(String(100), default=None)
    result_code: Mapped[str | None] = mapped_column(String(40), default=None)
    result_detail: Mapped[str | None] = mapped_column(Text, default=None)
    send_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A run sending this payout holds it until then: a concurrent run leaves it alone; after a
    # crash the next run past this time sends it again (same idempotency key).
    sending_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    settled_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PayoutCallbackRow(Base):
    """Every provider result that reached the engine (callback or result file), applied or
    not, with what the engine did with it."""

    __tablename__ = "payout_callbacks"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    channel: Mapped[str] = mapped_column(String(40))  # mpesa_result | momo | result_file | ...
    reference: Mapped[str | None] = mapped_column(String(200), default=None)
    payout_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    # applied | duplicate | unknown_reference | refused | pending
    outcome: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text, default=None)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffKeyRow(Base):
    """A programme staff member's API key: shown once, only a SHA-256 hash is kept."""

    __tablename__ = "staff_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
