"""Earning rules: per task / audio minute / box, the three policies, gold at training rate,
reviews; integers only (floats stop at ms_between and score_bps)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain.earning_rules import (
    AnswerOutcome,
    EarnPolicy,
    PayRateRule,
    RatePer,
    answer_earning,
    ms_between,
    overturned_earning,
    review_earning,
    score_bps,
)
from engine.domain.money import Money, parse_amount

KES = "KES"


def rate(amount: str = "12.50", per: RatePer = RatePer.TASK,
         policy: EarnPolicy = EarnPolicy.ACCEPTED_ONLY, **kw: object) -> PayRateRule:  # fmt: skip
    return PayRateRule(parse_amount(amount, KES), per, policy, **kw)  # type: ignore[arg-type]


def outcome(**kw: object) -> AnswerOutcome:
    return AnswerOutcome(answer_id=7, worker_id="w1", **kw)  # type: ignore[arg-type]


def test_an_accepted_task_earns_the_rate_with_a_readable_reason() -> None:
    e = answer_earning(rate(), outcome(score_bps=9_000))
    assert e.amount == Money(KES, 1250) and e.accepted
    assert e.reason == "accepted: 1 task × KES 12.50"
    assert e.key == "earn:answer:7"


@pytest.mark.parametrize(
    ("score", "correct", "accepted"),
    [(8_000, None, True), (7_999, None, False), (None, None, False), (0, True, True),
     (10_000, False, False)],
)  # fmt: skip
def test_accepted_only_uses_the_verdict_or_the_threshold(score, correct, accepted) -> None:  # type: ignore[no-untyped-def]
    e = answer_earning(rate(accept_min_bps=8_000), outcome(score_bps=score, correct=correct))
    assert e.accepted is accepted
    assert e.amount.minor == (1250 if accepted else 0)
    if not accepted:
        assert e.reason.startswith("not accepted:") and "dispute" in e.reason


def test_rejection_reason_says_the_score_and_the_threshold() -> None:
    e = answer_earning(rate(accept_min_bps=8_000), outcome(score_bps=6_250))
    assert "62.50%" in e.reason and "80%" in e.reason


def test_all_completed_pays_every_answer() -> None:
    e = answer_earning(rate(policy=EarnPolicy.ALL_COMPLETED), outcome(score_bps=0))
    assert e.amount == Money(KES, 1250) and e.reason == "completed: 1 task × KES 12.50"


def test_score_weighted_rounds_half_up_to_a_minor_unit() -> None:
    e = answer_earning(rate(policy=EarnPolicy.SCORE_WEIGHTED), outcome(score_bps=8_500))
    assert e.amount == Money(KES, 1063)  # 1250 × 0.85 = 1062.5
    assert e.reason.startswith("score 85% of 1 task × KES 12.50")


def test_audio_minutes_use_integer_milliseconds() -> None:
    r = rate("10.00", RatePer.AUDIO_MINUTE, EarnPolicy.ALL_COMPLETED)
    e = answer_earning(r, outcome(segment_ms=ms_between(3.2, 93.2)))
    assert e.amount == Money(KES, 1500)  # 90 s at KES 10.00 a minute
    assert e.reason == "completed: 1.50 audio min × KES 10.00 per min = KES 15.00"
    assert answer_earning(r, outcome(segment_ms=1)).amount == Money(KES, 0)  # 0.0167 minor


def test_boxes_count_the_final_results_boxes() -> None:
    r = rate("1.00", RatePer.BOX, EarnPolicy.ALL_COMPLETED)
    assert answer_earning(r, outcome(boxes=3)).amount == Money(KES, 300)
    assert answer_earning(r, outcome(boxes=1)).reason == "completed: 1 box × KES 1.00 = KES 1.00"
    assert answer_earning(r, outcome(boxes=None)).amount == Money(KES, 0)


def test_gold_pays_the_training_rate_whatever_the_score() -> None:
    r = rate(training_amount=parse_amount("2.00", KES))
    assert answer_earning(r, outcome(is_gold=True, correct=False)).amount == Money(KES, 200)
    zero = answer_earning(rate(), outcome(is_gold=True, correct=True))
    assert zero.amount == Money(KES, 0) and zero.reason == "gold task: training rate KES 0.00"


def test_reviews_and_overturns() -> None:
    r = rate(review_amount=parse_amount("2.00", KES))
    e = review_earning(r, 5, "rev")
    assert (e.key, e.worker_id, e.amount) == ("earn:review:5", "rev", Money(KES, 200))
    over = overturned_earning(r, outcome(score_bps=0))
    assert over.amount == Money(KES, 1250) and over.key == "earn:answer:7"
    assert over.reason == "accepted on dispute: 1 task × KES 12.50"


def test_a_rate_is_one_currency_and_never_negative() -> None:
    with pytest.raises(ValueError):
        PayRateRule(Money(KES, 100), review_amount=Money("UGX", 5))
    with pytest.raises(ValueError):
        PayRateRule(Money(KES, -1))
    with pytest.raises(ValueError):
        PayRateRule(Money(KES, 1), accept_min_bps=10_001)


def test_boundary_conversions() -> None:
    assert ms_between(None, 3.0) is None
    assert ms_between(5.0, 4.0) == 0
    assert ms_between(1.0, 2.0004) == 1000
    assert score_bps(None) is None
    assert (score_bps(-0.2), score_bps(0.12345), score_bps(1.7)) == (0, 1234, 10_000)


@settings(max_examples=200, deadline=None)
@given(
    minor=st.integers(0, 10**9),
    per=st.sampled_from(RatePer),
    policy=st.sampled_from(EarnPolicy),
    score=st.none() | st.integers(0, 10_000),
    correct=st.none() | st.booleans(),
    ms=st.none() | st.integers(0, 10**8),
    boxes=st.none() | st.integers(0, 1000),
    gold=st.booleans(),
)
def test_an_earning_is_whole_minor_units_between_zero_and_full(  # type: ignore[no-untyped-def]
    minor, per, policy, score, correct, ms, boxes, gold
) -> None:
    r = PayRateRule(Money(KES, minor), per, policy, training_amount=Money(KES, minor // 2))
    o = AnswerOutcome(1, "w", gold, score, correct, ms, boxes)
    e = answer_earning(r, o)
    assert isinstance(e.amount.minor, int) and e.amount.currency == KES
    full = overturned_earning(r, o).amount.minor
    assert 0 <= e.amount.minor <= max(full, minor // 2)
    if policy is EarnPolicy.ALL_COMPLETED and not gold:
        assert e.amount.minor == full
    assert e.reason
