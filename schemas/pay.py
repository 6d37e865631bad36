"""Pay API payloads: a worker's earnings and balances, disputes and their decisions."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from schemas.jobs import UtcDatetime
from schemas.safe_text import refuse_control_characters

DisputeReason = Annotated[
    str, StringConstraints(max_length=2000), AfterValidator(refuse_control_characters)
]


class MoneyAmount(BaseModel):
    """An amount: ISO 4217 code, integer minor units, and the text people read."""

    currency: str
    minor: int
    text: str


class AnswerEarning(BaseModel):
    answer_id: int
    job_id: str
    task_id: str
    status: Literal["earned", "unpaid", "waiting"] = Field(
        description="earned: posted to your balance; unpaid: final and earned nothing; "
        "waiting: the task is not final yet"
    )
    amount: MoneyAmount | None = None
    reason: str
    available: bool = Field(default=False, description="The hold is over: it can be paid out")
    posted_at: UtcDatetime | None = None
    dispute: str | None = Field(default=None, description="open | overturned | upheld")
    disputable: bool = False


class ReviewEarning(BaseModel):
    review_id: int
    job_id: str
    task_id: str
    status: Literal["earned", "unpaid"]
    amount: MoneyAmount | None = None
    reason: str
    available: bool = False


class WorkerBalance(BaseModel):
    currency: str
    pending: MoneyAmount
    available: MoneyAmount
    benefits: MoneyAmount


class EarningsView(BaseModel):
    answers: list[AnswerEarning]
    reviews: list[ReviewEarning]
    balances: list[WorkerBalance]


class DisputeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: DisputeReason = Field(default="", description="Why the answer deserves pay")


class DisputeDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["overturn", "uphold"]


class DisputeView(BaseModel):
    dispute_id: int
    answer_id: int
    status: Literal["open", "overturned", "upheld"]
    earned: MoneyAmount | None = None


class OpenDispute(BaseModel):
    dispute_id: int
    answer_id: int
    job_id: str
    task_id: str
    reason: str
    created_at: UtcDatetime
