"""What a task page may carry, and how what it sends back becomes the engine's answer (pure).

A page is built only from ``engine.work.service.leased_task`` (the lease, the media, the labels
and the worker's own machine draft): never another worker's answer, never the gold answer,
never whether the task is gold. The full editor's result is a Label Studio annotation result;
it becomes an answer through the very function the Label Studio webhook uses
(``engine.domain.labeling_payload.answer_from_annotation``), with the task image's size, so a
box lands on the same pixels whichever way it came in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.domain.job_stage import JobKind
from engine.domain.labeling_payload import (
    answer_from_annotation,
    draft_prediction,
    task_data,
)
from engine.domain.low_confidence import DEFAULT_LOW_CONFIDENCE_THRESHOLD, is_low_confidence
from engine.labeling.label_configs import render_label_config
from engine.work.service import LeasedTask
from schemas.safe_text import JsonObject, ShortId

EDITOR_COOKIE = "kazi_editor"
LIGHT, FULL = "light", "full"
# The Label Studio annotation result of one task: 500 boxes at most, like answers.
MAX_RESULT_ITEMS = 500


class Editor(StrEnum):
    LIGHT = LIGHT
    FULL = FULL


def choose_editor(kind: str, asked: str | None, remembered: str | None) -> Editor:
    """Images always use the full editor; transcription the light one unless the worker asked
    for the full editor (``?editor=full``, then remembered in a cookie)."""
    if kind != JobKind.TRANSCRIPTION.value:
        return Editor.FULL
    for choice in (asked, remembered):
        if choice in (LIGHT, FULL):
            return Editor(choice)
    return Editor.LIGHT


def client_answer_id_for(lease_id: str) -> str:
    """Stable per lease: an answer sent twice (offline, then again) is filed once."""
    return f"app-{lease_id}"


def same_origin_path(url: str, public_url: str) -> str:
    """A link on the engine's own public address as a path: the page's origin serves it (and
    the service worker caches it) whatever host name the worker reached the app by."""
    link, public = urlsplit(url), urlsplit(public_url)
    if link.scheme == public.scheme and link.netloc == public.netloc and link.path:
        return link.path + (f"?{link.query}" if link.query else "")
    return url


@dataclass(frozen=True)
class DraftWordView:
    text: str
    low_confidence: bool


@dataclass(frozen=True)
class TaskPageView:
    """Everything a task page shows; nothing else reaches the page."""

    lease_id: str
    task_id: str
    kind: str
    editor: Editor
    labels: tuple[str, ...]
    draft_text: str
    draft_words: tuple[DraftWordView, ...]
    media_url: str
    start: float | None
    end: float | None
    width: int | None
    height: int | None
    expires_at: datetime
    client_answer_id: str

    @property
    def duration(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return max(0.0, self.end - self.start)

    @property
    def low_confidence_count(self) -> int:
        return sum(word.low_confidence for word in self.draft_words)


def _draft_words(words: Sequence[Any]) -> tuple[DraftWordView, ...]:
    out = []
    for item in words:
        if not isinstance(item, Mapping) or not isinstance(item.get("word"), str):
            continue
        word = item["word"].strip()
        if not word:
            continue
        flagged = item.get("low_confidence")
        if not isinstance(flagged, bool):
            probability = item.get("probability")
            number = probability if isinstance(probability, int | float) else math.nan
            flagged = is_low_confidence(float(number), DEFAULT_LOW_CONFIDENCE_THRESHOLD)
        out.append(DraftWordView(word, flagged))
    return tuple(out)


def task_page_view(leased: LeasedTask, editor: Editor, media_url: str) -> TaskPageView:
    """The page's view of a lease. ``media_url``: the link to the media the editor plays or
    shows (the light editor's is the small Opus copy, see ``media_key_for``)."""
    draft = leased.draft or {}
    words = _draft_words(draft.get("words") or ())
    text = draft.get("text")
    draft_text = text.strip() if isinstance(text, str) else ""
    if not draft_text and words:
        draft_text = " ".join(word.text for word in words)
    lease = leased.lease
    return TaskPageView(
        lease_id=lease.lease_id,
        task_id=lease.task_id,
        kind=leased.kind,
        editor=editor,
        labels=tuple(leased.labels),
        draft_text=draft_text,
        draft_words=words,
        media_url=media_url,
        start=leased.start,
        end=leased.end,
        width=leased.width,
        height=leased.height,
        expires_at=lease.expires_at,
        client_answer_id=client_answer_id_for(lease.lease_id),
    )


def media_key_for(leased: LeasedTask, editor: Editor) -> str:
    """The light editor plays the small Opus copy made at split time; the full editor (a
    desktop) the task's own media, as Label Studio does."""
    if editor is Editor.LIGHT and leased.lowres_media_key:
        return leased.lowres_media_key
    return leased.media_key


def full_editor_setup(view: TaskPageView) -> dict[str, Any]:
    """What the full editor (Label Studio's frontend) is started with: the labeling config of
    today's projects, a Label Studio task made as publishing makes it, and the draft's result
    (transcription) that the worker's annotation starts from."""
    words = [{"word": w.text, "low_confidence": w.low_confidence} for w in view.draft_words]
    data = task_data(view.kind, view.media_url, view.draft_text, words, view.task_id)
    draft: list[dict[str, Any]] = []
    if view.kind == JobKind.TRANSCRIPTION.value and view.draft_text:
        # The prediction publishing sends; the page starts the worker's annotation from it.
        draft = draft_prediction(view.draft_text, "draft")["result"]
    return {
        "config": render_label_config(view.kind, view.labels),
        "task": {"id": 1, "data": data, "predictions": [], "annotations": []},
        "draft_result": draft,
    }


# -- what the page sends ---------------------------------------------------------------------


class AppSubmitRequest(BaseModel):
    """A submit as JSON: the engine's answer, or the full editor's Label Studio result."""

    model_config = ConfigDict(extra="forbid")

    client_answer_id: ShortId = Field(min_length=1, description="app-<lease_id> from the page")
    answer: JsonObject | None = Field(
        default=None,
        description='{"text": ...} | {"label": ...} | {"boxes": [{"label","x","y","w","h"}]}',
    )
    result: list[JsonObject] | None = Field(
        default=None,
        max_length=MAX_RESULT_ITEMS,
        description="A Label Studio annotation result (the full editor); boxes in percent",
    )
    time_spent_seconds: float | None = Field(default=None, ge=0, le=86_400)

    @model_validator(mode="after")
    def _one_answer(self) -> AppSubmitRequest:
        if (self.answer is None) == (self.result is None):
            raise ValueError("send exactly one of 'answer' and 'result'")
        return self


class AppFormSubmit(BaseModel):
    """The light editor's form (works without JavaScript)."""

    model_config = ConfigDict(extra="ignore")  # csrf_token and the submit button's name

    text: str = Field(max_length=20_000)
    client_answer_id: ShortId | None = None
    time_spent_seconds: float | None = Field(default=None, ge=0, le=86_400)


class HeartbeatRequest(BaseModel):
    """A heartbeat says only that the worker is at it (an empty body or ``{}``)."""

    model_config = ConfigDict(extra="forbid")


def answer_from_page(
    kind: str, body: AppSubmitRequest, image_size: tuple[int, int] | None
) -> dict[str, Any]:
    """The engine's answer (still to be checked by the service) for what a page sent. Raises
    LabelingPayloadError for a Label Studio result the engine cannot use."""
    if body.result is None:
        assert body.answer is not None  # the model allows one of the two
        return dict(body.answer)
    return answer_from_annotation(JobKind(kind), body.result, image_size)


# -- what the worker is told -----------------------------------------------------------------


class Outcome(StrEnum):
    FILED = "filed"
    REPLAYED = "replayed"
    LATE_FILED = "late_filed"
    REFUSED = "refused"


class Refusal(StrEnum):
    """Why a submit was not recorded, in the worker's terms."""

    SKIPPED = "skipped"  # the worker released the task
    ALREADY_SENT = "already_sent"  # this lease was submitted already
    RAN_OUT_FULL = "ran_out_full"  # the lease ran out and the task has all its answers
    OTHER = "other"


def refusal_of(lease_outcome: str | None, lease_ran_out: bool) -> Refusal:
    """The reason for a refused submit, from the lease it was made on."""
    if lease_outcome == "released":
        return Refusal.SKIPPED
    if lease_outcome == "submitted":
        return Refusal.ALREADY_SENT
    if lease_ran_out or lease_outcome == "expired":
        return Refusal.RAN_OUT_FULL
    return Refusal.OTHER


# Message ids (translated in locales/*/LC_MESSAGES/tasks.po).
OUTCOME_MESSAGES: dict[Outcome, str] = {
    Outcome.FILED: "Thank you. Your answer is saved.",
    Outcome.REPLAYED: "This answer was already saved. Nothing was sent twice.",
    Outcome.LATE_FILED: (
        "Your time on this task had run out, but the task still needed an answer, "
        "so yours was saved."
    ),
}
REFUSAL_MESSAGES: dict[Refusal, str] = {
    Refusal.SKIPPED: "You skipped this task, so this answer was not saved.",
    Refusal.ALREADY_SENT: "You already sent an answer for this task. This one was not saved.",
    Refusal.RAN_OUT_FULL: (
        "Your time on this task ran out and other workers have given it all the answers it "
        "needs, so this answer was not saved. Please take the next task."
    ),
    Refusal.OTHER: "This answer could not be saved. Please take the next task.",
}
LEASE_ENDED_MESSAGE = (
    "Your time on this task has run out. You can still send your answer: it is saved if the "
    "task still needs one."
)
PAUSED_MESSAGE = (
    "Your account is paused from paid tasks. Finish your training tasks or ask your coordinator."
)
TRAINING_MESSAGE = "Finish your training first. Then paid tasks will appear here."
SKIPPED_MESSAGE = "You skipped the task. It went back to the pool."
