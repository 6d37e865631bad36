"""Job specs and job API payloads."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from engine.domain.job_stage import JobKind
from engine.domain.money import MoneyError, parse_amount
from schemas.safe_text import IdText, refuse_control_characters, refuse_nul

# Bounds of a spec, the same whichever form it comes in: it is stored with the job and its
# labels go out with every lease.
MAX_LABELS = 200
MAX_LABEL_CHARS = 100
MAX_GOLD_ITEMS = 1000
MAX_GOLD_TEXT_CHARS = 100_000  # one file's transcript
MAX_GOLD_BOXES = 1000  # one image's boxes
MAX_SPEC_JSON_BYTES = 1024 * 1024
# The objects one JSON job may name (the deployment's KAZI_MAX_FILES_PER_JOB is checked too).
MAX_SOURCES = 10_000

# The length first, then the characters (a length checked after a validator would read
# "items after validation").
Label = Annotated[
    str, StringConstraints(max_length=MAX_LABEL_CHARS), AfterValidator(refuse_control_characters)
]
GoldText = Annotated[
    str, StringConstraints(max_length=MAX_GOLD_TEXT_CHARS), AfterValidator(refuse_nul)
]
Filename = Annotated[
    str, StringConstraints(max_length=255), AfterValidator(refuse_control_characters)
]


def _assume_utc(value: datetime) -> datetime:
    # Every stored time is UTC, but SQLite hands datetimes back naive.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# A time in an API answer: always with its UTC offset, whichever database it came from.
UtcDatetime = Annotated[datetime, AfterValidator(_assume_utc)]


class PayRate(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    amount: Decimal = Field(ge=0, description='What a worker earns per unit ("12.50")')
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    per: Literal["task", "audio_minute", "box"] = "task"
    policy: Literal["accepted_only", "all_completed", "score_weighted"] = Field(
        default="accepted_only",
        description="Which answers earn once their task is final: accepted ones, every "
        "completed one, or each in proportion to its score",
    )
    training_amount: Decimal = Field(
        default=Decimal(0), ge=0, description="What a gold (training) task pays; 0 allowed"
    )
    review_amount: Decimal = Field(
        default=Decimal(0), ge=0, description="What a reviewer earns per review"
    )

    @model_validator(mode="after")
    def _exact_in_currency(self) -> PayRate:
        # Amounts are exact in the currency's minor unit (KES 2 decimals, UGX none): never
        # rounded, so a rate the currency cannot pay is refused.
        for name in ("amount", "training_amount", "review_amount"):
            try:
                parse_amount(getattr(self, name), self.currency)
            except MoneyError as error:
                raise ValueError(f"{name}: {error}") from None
        return self


class GoldBox(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    label: Label
    x: float = Field(ge=0)
    y: float = Field(ge=0)
    w: float = Field(gt=0)
    h: float = Field(gt=0)


class GoldItem(BaseModel):
    """A file of the job whose right answer is known: its tasks become gold tasks."""

    model_config = ConfigDict(extra="forbid")

    filename: IdText = Field(min_length=1, max_length=255)
    text: GoldText | None = Field(default=None, description="transcription: the exact transcript")
    label: Label | None = Field(default=None, description="image_classification: the class")
    boxes: list[GoldBox] | None = Field(
        default=None, max_length=MAX_GOLD_BOXES, description="image_boxes, source pixels"
    )

    def answer(self) -> dict[str, object]:
        if self.text is not None:
            return {"text": self.text}
        if self.label is not None:
            return {"label": self.label}
        return {"boxes": [b.model_dump() for b in self.boxes or []]}


class JobSpec(BaseModel):
    """What the client orders. Unknown fields are refused so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    kind: JobKind
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
    labels: list[Label] = Field(
        default_factory=list,
        max_length=MAX_LABELS,
        description=f"Classes for labeling kinds (at most {MAX_LABELS}, {MAX_LABEL_CHARS} "
        "characters each)",
    )
    overlap: int = Field(default=2, ge=1, le=15, description="Answers per task, distinct workers")
    gold_ratio: float = Field(default=0.1, ge=0.0, lt=1.0)
    max_segment_seconds: float = Field(default=30.0, gt=0.0, le=600.0)
    segment_overlap_seconds: float = Field(default=0.5, ge=0.0)
    pay_rate: PayRate | None = None
    deadline: datetime | None = None
    callback_url: AnyHttpUrl | None = Field(
        default=None,
        description="POSTed the signed delivery notice; https, to a public address "
        "(http too in embedded mode; private hosts only if the operator allowlisted them)",
    )
    gold: list[GoldItem] = Field(
        default_factory=list,
        max_length=MAX_GOLD_ITEMS,
        description="Files of this job with known answers (gold tasks)",
    )
    deliver_images: bool = Field(
        default=False,
        description="Image jobs: copy the source images into the delivered dataset",
    )

    @field_validator("labels")
    @classmethod
    def _clean_labels(cls, labels: list[str]) -> list[str]:
        cleaned = [label.strip() for label in labels]
        if any(not label for label in cleaned):
            raise ValueError("labels must not be empty strings")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("labels must be unique")
        return cleaned

    @field_validator("callback_url")
    @classmethod
    def _no_credentials_in_callback(cls, url: AnyHttpUrl | None) -> AnyHttpUrl | None:
        # Stored and shown with the spec; the address checks need settings and DNS (intake).
        if url is not None and (url.username or url.password):
            raise ValueError("callback_url must not hold a user name or password")
        return url

    @field_validator("deadline")
    @classmethod
    def _aware_deadline(cls, deadline: datetime | None) -> datetime | None:
        if deadline is not None and deadline.tzinfo is None:
            raise ValueError("deadline must include a timezone, e.g. 2026-12-01T12:00:00Z")
        return deadline

    @model_validator(mode="after")
    def _consistent(self) -> JobSpec:
        if self.kind.needs_labels and len(self.labels) < (
            2 if self.kind is JobKind.IMAGE_CLASSIFICATION else 1
        ):
            needed = (
                "at least two labels" if self.kind is JobKind.IMAGE_CLASSIFICATION else "labels"
            )
            raise ValueError(f"a {self.kind.value} job needs {needed}")
        if self.kind is JobKind.TRANSCRIPTION and self.labels:
            raise ValueError("a transcription job takes no labels")
        if self.segment_overlap_seconds >= self.max_segment_seconds:
            raise ValueError("segment_overlap_seconds must be smaller than max_segment_seconds")
        if self.deliver_images and self.kind is JobKind.TRANSCRIPTION:
            raise ValueError("deliver_images is for image jobs")
        self._check_gold()
        # Only gold can make a spec this large; labels and the rest stay far below the limit.
        if self.gold and len(self.model_dump_json()) > MAX_SPEC_JSON_BYTES:
            raise ValueError(f"the spec is larger than {MAX_SPEC_JSON_BYTES} bytes as JSON")
        return self

    def _check_gold(self) -> None:
        names = [g.filename for g in self.gold]
        if len(set(names)) != len(names):
            raise ValueError("gold lists a filename twice")
        field = {
            JobKind.TRANSCRIPTION: "text",
            JobKind.IMAGE_CLASSIFICATION: "label",
            JobKind.IMAGE_BOXES: "boxes",
        }[self.kind]
        for item in self.gold:
            given = [f for f in ("text", "label", "boxes") if getattr(item, f) is not None]
            if given != [field]:
                raise ValueError(f"gold {item.filename!r}: a {self.kind.value} job needs '{field}'")
            if item.label is not None and item.label not in self.labels:
                raise ValueError(f"gold {item.filename!r}: label {item.label!r} is not a job label")
            for box in item.boxes or []:
                if box.label not in self.labels:
                    raise ValueError(
                        f"gold {item.filename!r}: box label {box.label!r} is not a job label"
                    )

    def gold_answers(self) -> dict[str, dict[str, object]]:
        return {g.filename: g.answer() for g in self.gold}


class SourceRef(BaseModel):
    """An object already in the store (for example uploaded with a presigned PUT URL)."""

    model_config = ConfigDict(extra="forbid")

    key: IdText = Field(min_length=1, max_length=1024)
    filename: Filename | None = None


class JobFromObjects(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spec: JobSpec
    sources: list[SourceRef] = Field(min_length=1, max_length=MAX_SOURCES)


class StageEvent(BaseModel):
    stage: str
    at: UtcDatetime
    detail: str | None = None


class SourceStatus(BaseModel):
    id: str
    filename: str
    media_type: str
    sha256: str
    size_bytes: int
    status: str
    duration_seconds: float | None = None
    width: int | None = None
    height: int | None = None
    failure_reason: str | None = None


class JobSummary(BaseModel):
    id: str
    kind: JobKind
    stage: str
    failure_reason: str | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime


class JobDetail(JobSummary):
    spec: JobSpec
    sources: list[SourceStatus]
    task_counts: dict[str, int] = Field(description="Tasks per status")
    tasks_total: int
    stage_history: list[StageEvent]


class JobPage(BaseModel):
    items: list[JobSummary]
    total: int
    limit: int
    offset: int


class TaskView(BaseModel):
    id: str
    kind: str
    source: str = Field(description="Source media id")
    source_filename: str
    seq: int
    status: str
    start: float | None = None
    end: float | None = None
    box: list[int] | None = Field(default=None, description="[x, y, w, h] in source pixels")
    media_url: str | None = None
    lowres_media_url: str | None = None


class TaskPage(BaseModel):
    items: list[TaskView]
    total: int
    limit: int
    offset: int


class UploadUrl(BaseModel):
    key: str
    url: str
    expires_at: UtcDatetime


class DeliverableView(BaseModel):
    name: str
    kind: str
    content_type: str
    size_bytes: int
    sha256: str
    created_at: UtcDatetime
    url: str = Field(description="Presigned download link")


class DeliverableList(BaseModel):
    job_id: str
    stage: str
    items: list[DeliverableView]
