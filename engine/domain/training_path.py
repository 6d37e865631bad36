"""The training path of a new trainee (pure): practice with feedback, then a qualification set.

A worker with a training record starts NOT_STARTED, practises (each answer scored and shown
against the expected answer at once), and after ``practice_min_items`` practice answers takes the
qualification set: every qualification item once, nothing revealed until the last one. The mean
score decides: at or above ``qualify_min_score`` the worker is QUALIFIED (paid work opens);
below it the round counts as failed and the worker practises again before the next round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal

from engine.domain.scoring import Normalizer, word_diff
from engine.domain.text_normalization import normalize_text


class TrainingTransitionError(ValueError):
    pass


class TrainingSet(StrEnum):
    PRACTICE = "practice"
    QUALIFICATION = "qualification"


class TrainingStage(StrEnum):
    NOT_STARTED = "not_started"
    PRACTICE = "practice"
    QUALIFYING = "qualifying"
    QUALIFIED = "qualified"

    def move(self, target: TrainingStage) -> TrainingStage:
        """``target`` when the path allows the step, else TrainingTransitionError."""
        if target not in TRAINING_TRANSITIONS[self]:
            raise TrainingTransitionError(
                f"training cannot go from {self.value!r} to {target.value!r}"
            )
        return target


TRAINING_TRANSITIONS: Mapping[TrainingStage, frozenset[TrainingStage]] = {
    TrainingStage.NOT_STARTED: frozenset({TrainingStage.PRACTICE}),
    TrainingStage.PRACTICE: frozenset({TrainingStage.QUALIFYING}),
    # A failed round sends the worker back to practice; a passed one ends the path.
    TrainingStage.QUALIFYING: frozenset({TrainingStage.PRACTICE, TrainingStage.QUALIFIED}),
    TrainingStage.QUALIFIED: frozenset(),
}


@dataclass(frozen=True)
class TrainingRules:
    practice_min_items: int = 3
    qualify_min_score: float = 0.8

    def __post_init__(self) -> None:
        if self.practice_min_items < 0:
            raise ValueError("practice_min_items must be 0 or more")
        if not 0.0 <= self.qualify_min_score <= 1.0:
            raise ValueError("qualify_min_score must be between 0 and 1")


@dataclass(frozen=True)
class TrainingProgress:
    """Where one worker stands. ``practice_done`` counts practice answers since practice last
    (re)started; ``round`` is the qualification round being taken (or the next one)."""

    stage: TrainingStage = TrainingStage.NOT_STARTED
    practice_done: int = 0
    round: int = 1
    failed_rounds: int = 0
    last_score: float | None = None


def practice_required(rules: TrainingRules, practice_items: int) -> int:
    """Practice answers needed before qualifying: none when there are no practice items."""
    return rules.practice_min_items if practice_items > 0 else 0


def practice_is_done(progress: TrainingProgress, rules: TrainingRules, practice_items: int) -> bool:
    return progress.practice_done >= practice_required(rules, practice_items)


def start(progress: TrainingProgress) -> TrainingProgress:
    """NOT_STARTED -> PRACTICE; any later stage stays as it is (starting twice is harmless)."""
    if progress.stage is TrainingStage.NOT_STARTED:
        return replace(progress, stage=progress.stage.move(TrainingStage.PRACTICE))
    return progress


def begin_qualifying_if_ready(
    progress: TrainingProgress, rules: TrainingRules, practice_items: int, qualification_items: int
) -> TrainingProgress:
    """PRACTICE -> QUALIFYING once practice is done and there is a qualification set to take."""
    if (
        progress.stage is TrainingStage.PRACTICE
        and qualification_items > 0
        and practice_is_done(progress, rules, practice_items)
    ):
        return replace(progress, stage=progress.stage.move(TrainingStage.QUALIFYING))
    return progress


def after_practice_answer(
    progress: TrainingProgress, rules: TrainingRules, practice_items: int, qualification_items: int
) -> TrainingProgress:
    if progress.stage is not TrainingStage.PRACTICE:
        raise TrainingTransitionError(f"a practice answer while {progress.stage.value!r}")
    counted = replace(progress, practice_done=progress.practice_done + 1)
    return begin_qualifying_if_ready(counted, rules, practice_items, qualification_items)


@dataclass(frozen=True)
class RoundOutcome:
    passed: bool
    mean_score: float
    answered: int


def round_outcome(scores: Sequence[float], rules: TrainingRules) -> RoundOutcome:
    """The qualification round's verdict from every item's score (an empty round fails)."""
    if not scores:
        return RoundOutcome(False, 0.0, 0)
    mean = sum(scores) / len(scores)
    # Scores are WER-based floats: a mean a rounding error below the bar still passes.
    passed = mean + 1e-9 >= rules.qualify_min_score
    return RoundOutcome(passed, mean, len(scores))


def finish_round(progress: TrainingProgress, outcome: RoundOutcome) -> TrainingProgress:
    """QUALIFYING -> QUALIFIED on a pass; -> PRACTICE (failed round counted, practice counted
    afresh, the next round numbered) on a fail."""
    if outcome.passed:
        return replace(
            progress,
            stage=progress.stage.move(TrainingStage.QUALIFIED),
            last_score=outcome.mean_score,
        )
    return replace(
        progress,
        stage=progress.stage.move(TrainingStage.PRACTICE),
        practice_done=0,
        round=progress.round + 1,
        failed_rounds=progress.failed_rounds + 1,
        last_score=outcome.mean_score,
    )


# -- what the worker does next ----------------------------------------------------------------


@dataclass(frozen=True)
class ItemRef:
    item_id: int
    position: int


def next_practice_item(items: Sequence[ItemRef], answers_per_item: Mapping[int, int]) -> int | None:
    """The practice item the worker has answered least often, earliest first: a worker goes
    through every item before seeing one again."""
    if not items:
        return None
    best = min(items, key=lambda i: (answers_per_item.get(i.item_id, 0), i.position, i.item_id))
    return best.item_id


def next_qualification_item(items: Sequence[ItemRef], answered_this_round: set[int]) -> int | None:
    """The first qualification item (by position) not yet answered in the current round."""
    for item in sorted(items, key=lambda i: (i.position, i.item_id)):
        if item.item_id not in answered_this_round:
            return item.item_id
    return None


def round_is_complete(items: Sequence[ItemRef], answered_this_round: set[int]) -> bool:
    return bool(items) and next_qualification_item(items, answered_this_round) is None


def set_for_stage(stage: TrainingStage) -> TrainingSet | None:
    """Which set the worker answers from in a stage (None: nothing to answer)."""
    if stage in (TrainingStage.NOT_STARTED, TrainingStage.PRACTICE):
        return TrainingSet.PRACTICE
    if stage is TrainingStage.QUALIFYING:
        return TrainingSet.QUALIFICATION
    return None


# -- feedback ----------------------------------------------------------------------------------

SegmentKind = Literal["same", "yours", "expected"]


@dataclass(frozen=True)
class DiffSegment:
    """A run of words in the feedback: ``same`` in both, ``yours`` only in the worker's answer
    (wrong or extra: shown struck out), ``expected`` only in the expected answer (shown added)."""

    kind: SegmentKind
    text: str


def feedback_segments(
    expected: str, answer: str, normalizer: Normalizer = normalize_text
) -> list[DiffSegment]:
    """The worker's answer turned into the expected one, word by word (normalised texts, as the
    score sees them), for the page's <del>/<ins> feedback."""
    ref_words = normalizer(expected).split()
    segments: list[DiffSegment] = []
    at = 0
    for edit in word_diff(expected, answer, normalizer):
        if edit.reference_start > at:
            segments.append(DiffSegment("same", " ".join(ref_words[at : edit.reference_start])))
        if edit.hypothesis_words:
            segments.append(DiffSegment("yours", " ".join(edit.hypothesis_words)))
        if edit.reference_words:
            segments.append(DiffSegment("expected", " ".join(edit.reference_words)))
        at = edit.reference_end
    if at < len(ref_words):
        segments.append(DiffSegment("same", " ".join(ref_words[at:])))
    return segments
