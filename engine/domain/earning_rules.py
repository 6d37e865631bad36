"""What an answer or a review earns once its task is final: pure functions over integers.

A job's rate pays per task, per audio minute (of the task's segment, in integer milliseconds)
or per box (boxes in the final result). The policy says which answers earn:
``accepted_only`` (the answer is right, or scores at least the accept threshold, against the
final result), ``all_completed`` (every answer, as many impact-sourcing programmes practise) or
``score_weighted`` (the full amount times the score). Gold tasks pay the training amount
(0 allowed) whatever the score: they teach. Reviewers earn the review amount per review.

Floats stop at the boundary: segment seconds become milliseconds (``ms_between``) and scores
become basis points (``score_bps``) before any rule runs; money is ``Money`` (minor units).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from engine.domain.ledger import earn_answer_key, earn_review_key
from engine.domain.money import Money

FULL_SCORE_BPS = 10_000
MS_PER_MINUTE = 60_000


class RatePer(StrEnum):
    TASK = "task"
    AUDIO_MINUTE = "audio_minute"
    BOX = "box"


class EarnPolicy(StrEnum):
    ACCEPTED_ONLY = "accepted_only"
    ALL_COMPLETED = "all_completed"
    SCORE_WEIGHTED = "score_weighted"


@dataclass(frozen=True, slots=True)
class PayRateRule:
    """A job's pay rate, in money: ``amount`` per unit, training and review amounts."""

    amount: Money
    per: RatePer = RatePer.TASK
    policy: EarnPolicy = EarnPolicy.ACCEPTED_ONLY
    training_amount: Money | None = None  # None: nothing for gold tasks
    review_amount: Money | None = None  # None: nothing for reviews
    accept_min_bps: int = 8_000

    def __post_init__(self) -> None:
        for extra in (self.training_amount, self.review_amount):
            if extra is not None and extra.currency != self.amount.currency:
                raise ValueError("a pay rate pays in one currency")
        if any(m is not None and m.is_negative() for m in self._amounts()):
            raise ValueError("a pay rate is never negative")
        if not 0 <= self.accept_min_bps <= FULL_SCORE_BPS:
            raise ValueError("the accept threshold is 0..10000 basis points")

    def _amounts(self) -> tuple[Money | None, ...]:
        return (self.amount, self.training_amount, self.review_amount)

    @property
    def currency(self) -> str:
        return self.amount.currency


@dataclass(frozen=True, slots=True)
class AnswerOutcome:
    """One answer of a final task, as the rules see it."""

    answer_id: int
    worker_id: str
    is_gold: bool = False
    score_bps: int | None = None  # against the final result (or gold), 0..10000
    correct: bool | None = None  # a right/wrong verdict (classification, gold)
    segment_ms: int | None = None  # the task's audio length
    boxes: int | None = None  # boxes in the task's final result


@dataclass(frozen=True, slots=True)
class Earning:
    """What one answer (or review) earned and why, in words a worker can read. A zero amount
    posts nothing but is still shown (a rejected answer, a gold task at training rate 0)."""

    worker_id: str
    amount: Money
    reason: str
    answer_id: int | None = None
    review_id: int | None = None
    accepted: bool = True  # False: unpaid under accepted_only (the worker may dispute it)

    @property
    def key(self) -> str:
        if self.review_id is not None:
            return earn_review_key(self.review_id)
        assert self.answer_id is not None
        return earn_answer_key(self.answer_id)


# -- boundary conversions (the only place floats meet the money path) ------------------------


def ms_between(start_seconds: float | None, end_seconds: float | None) -> int | None:
    """A segment's length in whole milliseconds (None when unknown)."""
    if start_seconds is None or end_seconds is None:
        return None
    return max(0, round((end_seconds - start_seconds) * 1000))


def score_bps(score: float | None) -> int | None:
    """A 0..1 score as integer basis points, clamped (None when unscored)."""
    if score is None:
        return None
    return min(FULL_SCORE_BPS, max(0, round(score * FULL_SCORE_BPS)))


# -- the rules ----------------------------------------------------------------------------


def _percent(bps: int) -> str:
    whole, part = divmod(bps, 100)
    return f"{whole}%" if part == 0 else f"{whole}.{part:02d}%"


def _minutes_text(ms: int) -> str:
    # Two decimals of a minute, truncated: for reading only (the amount uses the exact ms).
    hundredths = ms * 100 // MS_PER_MINUTE
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def base_amount(rate: PayRateRule, outcome: AnswerOutcome) -> tuple[Money, str]:
    """What the answer's unit count pays in full, and how that was counted."""
    if rate.per is RatePer.AUDIO_MINUTE:
        ms = outcome.segment_ms or 0
        amount = rate.amount.share(ms, MS_PER_MINUTE)
        return amount, (
            f"{_minutes_text(ms)} audio min × {rate.amount.format()} per min = {amount.format()}"
        )
    if rate.per is RatePer.BOX:
        boxes = outcome.boxes or 0
        amount = rate.amount.times(boxes)
        unit = "box" if boxes == 1 else "boxes"
        return amount, f"{boxes} {unit} × {rate.amount.format()} = {amount.format()}"
    return rate.amount, f"1 task × {rate.amount.format()}"


def is_accepted(rate: PayRateRule, outcome: AnswerOutcome) -> bool:
    """Right by verdict, or scoring at least the threshold; an unscored answer is not."""
    if outcome.correct is not None:
        return outcome.correct
    return outcome.score_bps is not None and outcome.score_bps >= rate.accept_min_bps


def answer_earning(rate: PayRateRule, outcome: AnswerOutcome) -> Earning:
    """What one answer of a final task earns under the job's rate and policy."""

    def earned(amount: Money, reason: str, accepted: bool = True) -> Earning:
        return Earning(outcome.worker_id, amount, reason, answer_id=outcome.answer_id,
                       accepted=accepted)  # fmt: skip

    if outcome.is_gold:
        training = rate.training_amount or Money.zero(rate.currency)
        return earned(training, f"gold task: training rate {training.format()}")
    full, counted = base_amount(rate, outcome)
    if rate.policy is EarnPolicy.ALL_COMPLETED:
        return earned(full, f"completed: {counted}")
    if rate.policy is EarnPolicy.SCORE_WEIGHTED:
        bps = _weight_bps(outcome)
        amount = full.share(bps, FULL_SCORE_BPS)
        return earned(amount, f"score {_percent(bps)} of {counted}: {amount.format()}")
    if is_accepted(rate, outcome):
        return earned(full, f"accepted: {counted}")
    return earned(Money.zero(rate.currency), _rejection(rate, outcome), accepted=False)


def _weight_bps(outcome: AnswerOutcome) -> int:
    if outcome.score_bps is not None:
        return outcome.score_bps
    if outcome.correct is not None:
        return FULL_SCORE_BPS if outcome.correct else 0
    return 0


def _rejection(rate: PayRateRule, outcome: AnswerOutcome) -> str:
    if outcome.correct is False:
        why = "the answer did not match the final result"
    elif outcome.score_bps is None:
        why = "the answer was not scored"
    else:
        why = (
            f"score {_percent(outcome.score_bps)} is below the "
            f"{_percent(rate.accept_min_bps)} needed"
        )
    return f"not accepted: {why} (you may dispute it once)"


def review_earning(rate: PayRateRule, review_id: int, reviewer_id: str) -> Earning:
    amount = rate.review_amount or Money.zero(rate.currency)
    return Earning(reviewer_id, amount, f"review: 1 review × {amount.format()}",
                   review_id=review_id)  # fmt: skip


def overturned_earning(rate: PayRateRule, outcome: AnswerOutcome) -> Earning:
    """A reviewer upheld the worker's dispute: the answer earns as if accepted."""
    full, counted = base_amount(rate, outcome)
    return Earning(outcome.worker_id, full, f"accepted on dispute: {counted}",
                   answer_id=outcome.answer_id)  # fmt: skip
