"""Worker API payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from schemas.safe_text import JsonObject, ShortId


class NextRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: ShortId | None = Field(default=None, description="Only work from this job")
    lowres: StrictBool = Field(
        default=False, description="Link the small Opus copy of audio tasks (true or false)"
    )


class DraftView(BaseModel):
    text: str
    words: list[dict[str, Any]]
    model_version: str


class LeaseView(BaseModel):
    lease_id: str
    task_id: str
    job_id: str
    kind: str
    expires_at: datetime
    media_url: str
    media_type: str = Field(description="audio | image")
    labels: list[str]
    draft: DraftView | None = None
    start: float | None = Field(default=None, description="Segment start in the recording (s)")
    end: float | None = None
    width: int | None = Field(default=None, description="Image width in pixels")
    height: int | None = None


class SubmitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_answer_id: ShortId = Field(
        min_length=1,
        description="Your id for this answer; resending it is safe",
    )
    answer: JsonObject = Field(
        description='{"text": ...} | {"label": ...} | {"boxes": [{"label","x","y","w","h"}]}'
    )
    time_spent_seconds: float | None = Field(default=None, ge=0, le=86_400)


class SubmitResponse(BaseModel):
    answer_id: int
    status: str = "accepted"
    replayed: bool = False
    late: bool = False


class WorkerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handle: ShortId = Field(min_length=1)
    tier: ShortId = "trainee"
    demographics: JsonObject | None = None
    consented: StrictBool = False


class WorkerCreated(BaseModel):
    id: str
    handle: str
    tier: str
    api_key: str


class ReviewNextRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: ShortId | None = None


class ReviewLeaseView(BaseModel):
    lease_id: str
    task_id: str
    job_id: str
    kind: str
    expires_at: datetime
    media_url: str
    labels: list[str]
    consensus: dict[str, Any] = Field(description="The merged result to accept or correct")
    agreement: float
    reason: str | None = Field(default=None, description="Why this result is in review")
    answers: list[dict[str, Any]] = Field(description="The workers' answers, without names")


class ReviewSubmit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_review_id: ShortId = Field(min_length=1)
    decision: str = Field(pattern="^(accept|correct)$")
    answer: JsonObject | None = Field(default=None, description="The correction")
    time_spent_seconds: float | None = Field(default=None, ge=0, le=86_400)


class FeedbackItem(BaseModel):
    answer_id: int
    task_id: str
    job_id: str
    submitted_at: str
    scored_against: str = Field(description="gold | consensus | review")
    score: float
    wer: float | None = None
    cer: float | None = None
    correct: bool | None = None
    your_answer: dict[str, Any]
    expected: dict[str, Any] | None = None
    diff: list[dict[str, str]] | None = Field(
        default=None, description="Word edits from the expected text to yours"
    )
