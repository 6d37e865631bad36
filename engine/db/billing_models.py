"""Billing tables: what each paid job was quoted, reserved and charged. Only the billing
repository and migrations import this module (migration 0010).

The money itself lives in the ledger (engine/db/ledger_models.py); this row remembers what the
ledger alone cannot say: the quote the client accepted, the fee rate it was made at, and how
many times the job was delivered (each delivery settles once)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db.models import Base, utcnow


class JobBillingRow(Base):
    __tablename__ = "job_billing"
    __table_args__ = (
        CheckConstraint("fee_bps >= 0 AND fee_bps <= 10000", name="ck_job_billing_fee_bps"),
        CheckConstraint("quoted_minor >= 0", name="ck_job_billing_quoted"),
    )

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(36), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    fee_bps: Mapped[int] = mapped_column(Integer)
    quoted_minor: Mapped[int] = mapped_column(BigInteger)
    # The quote as the client saw it (schemas/billing.py QuoteView).
    quote: Mapped[dict[str, Any]] = mapped_column(JSON)
    # What billing itself moved from the client's funds into the reservation (net of what
    # settlement returned) and took as fees. For reading only: the charge is computed from the
    # ledger's journal, since earnings may top a short reservation up themselves.
    funded_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(default=None)
