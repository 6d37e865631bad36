"""Training use cases: staff add items; a trainee is enrolled, answers practice items (scored and
shown against the expected answer at once) and then the qualification set (shown at the end).

Every use case runs in the caller's unit of work and never commits. Nothing here hands out an
item's expected answer before the worker has answered it: ``next_item`` returns an
``ItemToAnswer``, which has no expected answer to leak.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.domain.answer_rules import AnswerError, normalize_answer
from engine.domain.answer_scoring import score_answer
from engine.domain.job_stage import JobKind
from engine.domain.training_path import (
    DiffSegment,
    RoundOutcome,
    TrainingProgress,
    TrainingRules,
    TrainingSet,
    TrainingStage,
    after_practice_answer,
    begin_qualifying_if_ready,
    feedback_segments,
    finish_round,
    next_practice_item,
    next_qualification_item,
    practice_required,
    round_is_complete,
    round_outcome,
    set_for_stage,
    start,
)
from engine.errors import KaziError
from engine.training.repository import TrainingAttempt, TrainingItem
from engine.training.settings import training_rules
from engine.unit_of_work import UnitOfWork

# What training items can be (box practice happens on real gold tasks for now).
TRAINING_KINDS = (JobKind.TRANSCRIPTION, JobKind.IMAGE_CLASSIFICATION)
MAX_REFERENCE_CHARS = 5_000
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class TrainingError(KaziError):
    status = 400
    code = "training_refused"


class InvalidTrainingItem(TrainingError):
    status = 422


class TrainingItemNotFound(TrainingError):
    status = 404


class NoTraining(TrainingError):
    """The worker has no training record: nothing to train for."""

    status = 409
    code = "training_not_required"


class TrainingFinished(TrainingError):
    status = 409


class TrainingItemWrongSet(TrainingError):
    status = 409


class TrainingItemNotNext(TrainingError):
    status = 409


class ClientIdReused(TrainingError):
    status = 409
    code = "client_id_reused"


class InvalidTrainingAnswer(TrainingError):
    status = 422


def _now() -> datetime:
    return datetime.now(UTC)


# -- staff: items -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewTrainingItem:
    kind: JobKind
    set_name: TrainingSet
    media_key: str
    lowres_media_key: str | None
    source_name: str
    expected: dict[str, Any]
    labels: list[str] = field(default_factory=list)


def check_new_item(
    kind: str, set_name: str, expected: dict[str, Any], labels: Sequence[str]
) -> tuple[JobKind, TrainingSet, dict[str, Any], list[str]]:
    """The item's kind, set, expected answer and labels in canonical form, or
    InvalidTrainingItem (run before any media is stored)."""
    try:
        job_kind = JobKind(kind)
    except ValueError:
        job_kind = None
    if job_kind not in TRAINING_KINDS or job_kind is None:
        names = ", ".join(k.value for k in TRAINING_KINDS)
        raise InvalidTrainingItem(f"training items are {names}; not {kind!r}")
    try:
        training_set = TrainingSet(set_name)
    except ValueError:
        raise InvalidTrainingItem(f"--set is practice or qualification, not {set_name!r}") from None
    clean_labels = [label.strip() for label in labels if label.strip()]
    if job_kind is JobKind.TRANSCRIPTION:
        text = " ".join(str(expected.get("text", "")).split())
        if not text:
            raise InvalidTrainingItem("a transcription item needs its expected text (--text)")
        if len(text) > MAX_REFERENCE_CHARS:
            raise InvalidTrainingItem(f"the text is longer than {MAX_REFERENCE_CHARS} characters")
        return job_kind, training_set, {"text": text}, []
    if len(clean_labels) < 2 or len(set(clean_labels)) != len(clean_labels):
        raise InvalidTrainingItem("a classification item needs two or more distinct --labels")
    label = str(expected.get("label", "")).strip()
    if label not in clean_labels:
        raise InvalidTrainingItem(f"--label {label!r} is not one of {clean_labels}")
    return job_kind, training_set, {"label": label}, clean_labels


def add_item(uow: UnitOfWork, new: NewTrainingItem) -> TrainingItem:
    kind, training_set, expected, labels = check_new_item(
        new.kind.value, new.set_name.value, new.expected, new.labels
    )
    return uow.training.add_item(
        kind=kind.value, set_name=training_set, media_key=new.media_key,
        lowres_media_key=new.lowres_media_key, source_name=new.source_name,
        expected=expected, labels=labels,
    )  # fmt: skip


def list_items(uow: UnitOfWork, set_name: TrainingSet | None = None) -> list[TrainingItem]:
    return uow.training.items(set_name)


# -- enrolment --------------------------------------------------------------------------------


def enrol_new_trainee(uow: UnitOfWork, worker_id: str) -> TrainingStage | None:
    """Give a new trainee a training record when the engine has a qualification set (without
    one there is nothing to qualify on, and the worker stays ungated). Returns the stage."""
    existing = uow.training.stage_of(worker_id)
    if existing is not None:
        return existing
    if uow.training.count_items(TrainingSet.QUALIFICATION) == 0:
        return None
    return uow.training.add_progress(worker_id).stage


def require_training(uow: UnitOfWork, worker_id: str) -> TrainingStage:
    """Give any worker a training record (staff's choice); an existing one is kept."""
    existing = uow.training.stage_of(worker_id)
    if existing is not None:
        return existing
    return uow.training.add_progress(worker_id).stage


class TrainingWorkerNotFound(TrainingError):
    status = 404
    code = "worker_not_found"


def require_training_of(uow: UnitOfWork, handle: str) -> TrainingStage:
    """``require_training`` for the worker with this handle (staff's CLI)."""
    worker = uow.workers.by_handle(handle)
    if worker is None:
        raise TrainingWorkerNotFound(f"no worker {handle!r}")
    return require_training(uow, worker.id)


# -- the trainee's path -----------------------------------------------------------------------


@dataclass(frozen=True)
class ItemToAnswer:
    """What the answer page may show of an item: never its expected answer."""

    item_id: int
    kind: JobKind
    set_name: TrainingSet
    media_key: str
    lowres_media_key: str | None
    labels: list[str]
    number: int  # 1-based: which practice answer / qualification item this is
    total: int  # practice answers needed / qualification items in the round


@dataclass(frozen=True)
class Feedback:
    item_id: int
    kind: JobKind
    score: float
    correct: bool  # at or above the pass mark
    segments: list[DiffSegment]  # transcription: the word-level diff
    expected_text: str | None
    your_text: str | None
    expected_label: str | None
    your_label: str | None


@dataclass(frozen=True)
class RoundResult:
    round: int
    passed: bool
    mean_score: float
    pass_mark: float
    items: list[Feedback]

    @property
    def to_improve(self) -> list[Feedback]:
        return [f for f in self.items if not f.correct]


@dataclass(frozen=True)
class AnswerOutcome:
    item_id: int
    set_name: TrainingSet
    replayed: bool
    progress: TrainingProgress
    # Practice: the feedback at once. Qualification: None until the round's last item, which
    # carries the whole round's result.
    feedback: Feedback | None
    round_result: RoundResult | None
    answered_in_round: int
    round_size: int


@dataclass(frozen=True)
class TrainingSummary:
    stage: TrainingStage
    practice_done: int
    practice_required: int
    practice_items: int
    qualification_items: int
    answered_in_round: int
    failed_rounds: int
    last_score: float | None
    pass_mark: float
    recent_practice_scores: list[float]

    @property
    def qualified(self) -> bool:
        return self.stage is TrainingStage.QUALIFIED

    @property
    def gated(self) -> bool:
        """True while paid work is closed to the worker."""
        return not self.qualified


def _effective(
    uow: UnitOfWork, progress: TrainingProgress, rules: TrainingRules
) -> TrainingProgress:
    """The stage the worker is really at: started, and qualifying once practice is done and a
    qualification set exists (items may have been added since the last answer)."""
    return begin_qualifying_if_ready(
        start(progress),
        rules,
        uow.training.count_items(TrainingSet.PRACTICE),
        uow.training.count_items(TrainingSet.QUALIFICATION),
    )


def _next_item_id(uow: UnitOfWork, worker_id: str, progress: TrainingProgress) -> int | None:
    training_set = set_for_stage(progress.stage)
    if training_set is TrainingSet.PRACTICE:
        counts = uow.training.practice_answer_counts(worker_id)
        return next_practice_item(uow.training.item_refs(TrainingSet.PRACTICE), counts)
    if training_set is TrainingSet.QUALIFICATION:
        answered = {a.item_id for a in uow.training.round_attempts(worker_id, progress.round)}
        return next_qualification_item(uow.training.item_refs(TrainingSet.QUALIFICATION), answered)
    return None


def start_training(
    uow: UnitOfWork, worker_id: str, rules: TrainingRules | None = None
) -> TrainingProgress:
    """NOT_STARTED -> PRACTICE (and on to QUALIFYING when there is nothing to practise)."""
    rules = rules or training_rules()
    progress = uow.training.progress(worker_id, for_update=True)
    if progress is None:
        raise NoTraining("you have no training to do")
    moved = _effective(uow, progress, rules)
    if moved != progress:
        uow.training.save_progress(worker_id, moved, _now())
    return moved


def next_item(
    uow: UnitOfWork, worker_id: str, rules: TrainingRules | None = None
) -> ItemToAnswer | None:
    """The item the worker answers next, or None (no training, qualified, or no items yet).
    Reads only: the stage moves when an answer comes in."""
    rules = rules or training_rules()
    stored = uow.training.progress(worker_id)
    if stored is None:
        return None
    progress = _effective(uow, stored, rules)
    item_id = _next_item_id(uow, worker_id, progress)
    item = uow.training.item(item_id) if item_id is not None else None
    if item is None:
        return None
    if item.set_name is TrainingSet.PRACTICE:
        required = practice_required(rules, uow.training.count_items(TrainingSet.PRACTICE))
        number, total = progress.practice_done + 1, max(required, progress.practice_done + 1)
    else:
        answered = len(uow.training.round_attempts(worker_id, progress.round))
        number, total = answered + 1, uow.training.count_items(TrainingSet.QUALIFICATION)
    return ItemToAnswer(
        item.id, JobKind(item.kind), item.set_name, item.media_key, item.lowres_media_key,
        item.labels, number, total,
    )  # fmt: skip


def _parse_answer(item: TrainingItem, answer: dict[str, Any]) -> dict[str, Any]:
    try:
        return normalize_answer(JobKind(item.kind), item.labels, answer)
    except AnswerError as exc:
        raise InvalidTrainingAnswer(str(exc)) from None


def feedback_for(
    item: TrainingItem, answer: dict[str, Any], score: float, rules: TrainingRules
) -> Feedback:
    kind = JobKind(item.kind)
    correct = score + 1e-9 >= rules.qualify_min_score
    if kind is JobKind.TRANSCRIPTION:
        expected, yours = str(item.expected.get("text", "")), str(answer.get("text", ""))
        return Feedback(
            item.id, kind, score, correct, feedback_segments(expected, yours), expected, yours,
            None, None,
        )  # fmt: skip
    return Feedback(
        item.id, kind, score, correct, [], None, None,
        item.expected.get("label"), answer.get("label"),
    )  # fmt: skip


def _round_result(
    uow: UnitOfWork, worker_id: str, round: int, rules: TrainingRules, *, finished: bool = False
) -> RoundResult | None:
    """The result of a round once every qualification item has its answer in it (None before).
    ``finished``: the round is known to be over (items added since do not reopen it)."""
    attempts = {a.item_id: a for a in uow.training.round_attempts(worker_id, round)}
    if not finished:
        refs = uow.training.item_refs(TrainingSet.QUALIFICATION)
        if not round_is_complete(refs, set(attempts)):
            return None
    answered = [uow.training.item(item_id) for item_id in attempts]
    items = [
        feedback_for(item, attempts[item.id].answer, attempts[item.id].score, rules)
        for item in sorted((i for i in answered if i is not None), key=lambda i: i.position)
    ]
    if not items:
        return None
    outcome = round_outcome([f.score for f in items], rules)
    return RoundResult(round, outcome.passed, outcome.mean_score, rules.qualify_min_score, items)


def answer_item(
    uow: UnitOfWork,
    worker_id: str,
    item_id: int,
    client_id: str,
    answer: dict[str, Any],
    rules: TrainingRules | None = None,
) -> AnswerOutcome:
    """File one answer to the worker's next item and score it; the same ``client_id`` again
    gives back the first answer's outcome and counts nothing."""
    rules = rules or training_rules()
    if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
        raise InvalidTrainingAnswer("client_id must be 8 to 64 letters, digits, '-' or '_'")
    stored = uow.training.progress(worker_id, for_update=True)
    if stored is None:
        raise NoTraining("you have no training to do")
    earlier = uow.training.attempt_by_client_id(worker_id, client_id)
    if earlier is not None:
        if earlier.item_id != item_id:
            raise ClientIdReused("this client_id was sent with another item's answer")
        return _replayed(uow, worker_id, earlier, stored, rules)
    item = uow.training.item(item_id)
    if item is None:
        raise TrainingItemNotFound(f"no training item {item_id}")
    progress = _effective(uow, stored, rules)
    wanted_set = set_for_stage(progress.stage)
    if wanted_set is None:
        raise TrainingFinished("your training is complete; paid work is open")
    if item.set_name is not wanted_set:
        raise TrainingItemWrongSet(
            f"item {item_id} is a {item.set_name.value} item; you are on the "
            f"{wanted_set.value} set now"
        )
    if _next_item_id(uow, worker_id, progress) != item_id:
        raise TrainingItemNotNext(f"item {item_id} is not your next item; open the next one")
    parsed = _parse_answer(item, answer)
    score = score_answer(JobKind(item.kind), parsed, item.expected).score
    now = _now()
    attempt = uow.training.add_attempt(
        worker_id=worker_id, item_id=item.id, set_name=item.set_name, round=progress.round,
        client_id=client_id, answer=parsed, score=score,
        passed=score + 1e-9 >= rules.qualify_min_score, now=now,
    )  # fmt: skip
    feedback: Feedback | None = None
    result: RoundResult | None = None
    if item.set_name is TrainingSet.PRACTICE:
        feedback = feedback_for(item, parsed, score, rules)
        progress = after_practice_answer(
            progress,
            rules,
            uow.training.count_items(TrainingSet.PRACTICE),
            uow.training.count_items(TrainingSet.QUALIFICATION),
        )
    else:
        result = _round_result(uow, worker_id, attempt.round, rules)
        if result is not None:
            progress = finish_round(
                progress, RoundOutcome(result.passed, result.mean_score, len(result.items))
            )
    uow.training.save_progress(worker_id, progress, now)
    answered, size = _round_counts(uow, worker_id, attempt)
    return AnswerOutcome(item.id, item.set_name, False, progress, feedback, result, answered, size)


def _round_counts(uow: UnitOfWork, worker_id: str, attempt: TrainingAttempt) -> tuple[int, int]:
    if attempt.set_name is not TrainingSet.QUALIFICATION:
        return 0, 0
    answered = len(uow.training.round_attempts(worker_id, attempt.round))
    return answered, uow.training.count_items(TrainingSet.QUALIFICATION)


def _replayed(
    uow: UnitOfWork,
    worker_id: str,
    attempt: TrainingAttempt,
    progress: TrainingProgress,
    rules: TrainingRules,
) -> AnswerOutcome:
    item = uow.training.item(attempt.item_id)
    if item is None:
        raise TrainingItemNotFound(f"no training item {attempt.item_id}")
    feedback: Feedback | None = None
    result: RoundResult | None = None
    if attempt.set_name is TrainingSet.PRACTICE:
        feedback = feedback_for(item, attempt.answer, attempt.score, rules)
    else:
        over = attempt.round < progress.round or progress.stage is TrainingStage.QUALIFIED
        result = _round_result(uow, worker_id, attempt.round, rules, finished=over)
    answered, size = _round_counts(uow, worker_id, attempt)
    return AnswerOutcome(
        item.id, attempt.set_name, True, progress, feedback, result, answered, size
    )


def training_summary(
    uow: UnitOfWork, worker_id: str, rules: TrainingRules | None = None
) -> TrainingSummary | None:
    """Where the worker stands, for the home page and the training page (None: no training)."""
    rules = rules or training_rules()
    stored = uow.training.progress(worker_id)
    if stored is None:
        return None
    progress = _effective(uow, stored, rules)
    practice_items = uow.training.count_items(TrainingSet.PRACTICE)
    answered = (
        len(uow.training.round_attempts(worker_id, progress.round))
        if progress.stage is TrainingStage.QUALIFYING
        else 0
    )
    # "Not started" until the first answer, though the first item is a practice one.
    stage = stored.stage if stored.stage is TrainingStage.NOT_STARTED else progress.stage
    return TrainingSummary(
        stage=stage,
        practice_done=progress.practice_done,
        practice_required=practice_required(rules, practice_items),
        practice_items=practice_items,
        qualification_items=uow.training.count_items(TrainingSet.QUALIFICATION),
        answered_in_round=answered,
        failed_rounds=progress.failed_rounds,
        last_score=progress.last_score,
        pass_mark=rules.qualify_min_score,
        recent_practice_scores=uow.training.recent_practice_scores(worker_id),
    )


def last_round_result(
    uow: UnitOfWork, worker_id: str, rules: TrainingRules | None = None
) -> RoundResult | None:
    """The worker's last finished qualification round (what to improve after a fail)."""
    rules = rules or training_rules()
    stored = uow.training.progress(worker_id)
    if stored is None:
        return None
    last = stored.round if stored.stage is TrainingStage.QUALIFIED else stored.round - 1
    if last < 1:
        return None
    return _round_result(uow, worker_id, last, rules, finished=True)
