"""States of a task's merged result and of QA review decisions (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from engine.domain.work_states import StateTransitionError


class ResultStatus(StrEnum):
    IN_REVIEW = "in_review"  # waits for a QA reviewer
    FINAL = "final"  # delivered as is (the consensus) or as the reviewer decided
    UNANSWERED = "unanswered"  # no answer arrived before the deadline


# None: not scored yet. Scoring writes a result once (the job leaves the score stage in the
# same transaction); a review makes an in-review result final.
RESULT_TRANSITIONS: Mapping[ResultStatus | None, frozenset[ResultStatus]] = {
    None: frozenset({ResultStatus.IN_REVIEW, ResultStatus.FINAL, ResultStatus.UNANSWERED}),
    ResultStatus.IN_REVIEW: frozenset({ResultStatus.FINAL}),
    ResultStatus.FINAL: frozenset(),
    ResultStatus.UNANSWERED: frozenset(),
}


def check_result_transition(current: ResultStatus | None, target: ResultStatus) -> None:
    if target not in RESULT_TRANSITIONS[current]:
        was = "unscored" if current is None else current.value
        raise StateTransitionError(f"a result cannot go from {was!r} to {target.value!r}")


def scored_status(*, answered: bool, to_review: bool) -> ResultStatus:
    if not answered:
        return ResultStatus.UNANSWERED
    return ResultStatus.IN_REVIEW if to_review else ResultStatus.FINAL


class FinalSource(StrEnum):
    CONSENSUS = "consensus"
    REVIEW = "review"


class ScoreReference(StrEnum):
    """What an answer was scored against."""

    GOLD = "gold"
    CONSENSUS = "consensus"
    REVIEW = "review"


class ReviewDecision(StrEnum):
    """What a reviewer asks for."""

    ACCEPT = "accept"
    CORRECT = "correct"


class ReviewOutcome(StrEnum):
    """What is recorded: a correction equal to the consensus is an acceptance."""

    ACCEPTED = "accepted"
    CORRECTED = "corrected"


def review_outcome(final: Mapping[str, Any], consensus: Mapping[str, Any]) -> ReviewOutcome:
    return ReviewOutcome.ACCEPTED if final == consensus else ReviewOutcome.CORRECTED
