"""Billing and statement payloads: quotes, invoices, the verify answer.

Money is never a float: every amount is ``{"currency", "minor", "text"}`` (integer minor units,
ISO 4217 code, and the amount for people, ``Money.as_json``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from engine.domain.money import Money
from engine.domain.pricing import MAX_DURATION_MS, MAX_IMAGE_SIDE
from schemas.jobs import MAX_SOURCES, JobSpec
from schemas.safe_text import refuse_control_characters

Filename = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255),
    AfterValidator(refuse_control_characters),
]


class MoneyView(BaseModel):
    currency: str = Field(description="ISO 4217 code")
    minor: int = Field(description="Whole minor units (cents for KES; UGX has none)")
    text: str = Field(description="For people: 'KES 1,234.50'")

    @classmethod
    def of(cls, money: Money) -> MoneyView:
        return cls(currency=money.currency, minor=money.minor, text=money.format())


class MediaDescription(BaseModel):
    """One file of the job to price: a recording by its duration (integer milliseconds), an
    image by its size in pixels (or no size: one task)."""

    model_config = ConfigDict(extra="forbid")

    filename: Filename
    duration_ms: StrictInt | None = Field(default=None, ge=1, le=MAX_DURATION_MS)
    width: StrictInt | None = Field(default=None, ge=1, le=MAX_IMAGE_SIDE)
    height: StrictInt | None = Field(default=None, ge=1, le=MAX_IMAGE_SIDE)


class QuoteAssumptions(BaseModel):
    """What the client may tell the quote instead of its defaults."""

    model_config = ConfigDict(extra="forbid")

    boxes_per_image: StrictInt | None = Field(default=None, ge=0, le=10_000)
    low_agreement_bps: StrictInt | None = Field(
        default=None, ge=0, le=10_000, description="Share of tasks expected under the agreement "
        "threshold (reviewed on top of the random sample), basis points",
    )  # fmt: skip


class QuoteRequest(BaseModel):
    """``POST /v1/jobs/quote``: the spec a job would be submitted with and what its files are.
    Nothing is uploaded and nothing is created."""

    model_config = ConfigDict(extra="forbid")

    spec: JobSpec
    media: list[MediaDescription] = Field(min_length=1, max_length=MAX_SOURCES)
    assume: QuoteAssumptions = Field(default_factory=QuoteAssumptions)


class QuoteLineView(BaseModel):
    code: str = Field(description="answers | reviews | gold | platform_fee")
    description: str
    quantity: int
    unit: str = Field(description="answer | audio_ms | box | review | bps")
    amount: MoneyView


class QuoteView(BaseModel):
    currency: str
    lines: list[QuoteLineView]
    subtotal: MoneyView = Field(description="What the workers are paid")
    platform_fee: MoneyView
    total: MoneyView = Field(description="The sum of the lines: what intake reserves")
    assumptions: list[str]
    counts: dict[str, int]


class InvoiceLineView(BaseModel):
    code: str
    description: str
    quantity: int
    amount: MoneyView


class TaxLineView(BaseModel):
    name: str
    rate_bps: int
    amount: MoneyView


class InvoiceView(BaseModel):
    number: str
    issued_at: str
    currency: str
    client: dict[str, str]
    job: dict[str, str]
    lines: list[InvoiceLineView]
    subtotal: MoneyView = Field(description="What the ledger charged the job: pay plus fee")
    taxes: list[TaxLineView]
    total: MoneyView
    quoted: MoneyView
    paid_from_balance: MoneyView
    amount_due: MoneyView = Field(description="Charged but not covered by the balance")
    notes: list[str]


class VerifyAnswer(BaseModel):
    valid: bool
    reason: str
    key_id: str | None = None
