"""Worker skill and tiers: these decide who is promoted, who is paused and, later, who is paid.

Expected numbers come from scipy's Beta distribution or from hand arithmetic in the comments,
never from running the module.
"""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats

from engine.domain.lease_rules import WorkerTier
from engine.domain.worker_skill import SkillEstimate, TierPolicy, decide_tier, estimate_skill

POLICY = TierPolicy()
TIER_RANK = {WorkerTier.TRAINEE: 0, WorkerTier.QUALIFIED: 1, WorkerTier.REVIEWER: 2}


def below(value: float) -> float:
    """The largest float under ``value``: the nearest miss of a threshold."""
    return math.nextafter(value, -math.inf)


def skill(
    mean: float = 0.7, lower: float = 0.0, upper: float = 1.0, answers: int = 0
) -> SkillEstimate:
    return SkillEstimate(mean=mean, lower=lower, upper=upper, answers=answers)


# -- estimate_skill --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scores",
    [[], [1.0], [0.0], [0.5, 0.5], [1.0] * 20, [0.0] * 10, [0.9, 0.8, 1.0, 0.35, 0.0, 0.65]],
)
def test_estimate_is_the_beta_posterior_mean_with_a_normal_95_interval(scores: list[float]) -> None:
    # Prior mean 0.7 with strength 4 is Beta(2.8, 1.2); each score adds s successes, 1 - s failures.
    posterior = stats.beta(2.8 + sum(scores), 1.2 + len(scores) - sum(scores))
    estimate = estimate_skill(scores)
    sd = posterior.std()
    assert estimate.answers == len(scores)
    assert estimate.mean == pytest.approx(posterior.mean(), abs=1e-12)
    assert estimate.lower == pytest.approx(max(0.0, posterior.mean() - 1.96 * sd), abs=1e-12)
    assert estimate.upper == pytest.approx(min(1.0, posterior.mean() + 1.96 * sd), abs=1e-12)


def test_no_answers_gives_the_prior_with_a_wide_interval() -> None:
    # Beta(2.8, 1.2): variance 2.8 * 1.2 / (4**2 * 5) = 0.042.
    estimate = estimate_skill([])
    assert estimate.mean == pytest.approx(0.7)
    assert estimate.lower == pytest.approx(0.7 - 1.96 * math.sqrt(0.042))
    assert estimate.upper == 1.0  # 0.7 + 0.40 is clamped


@pytest.mark.parametrize("prior_mean", [0.2, 0.5, 0.7, 0.95])
def test_the_prior_alone_sets_the_mean_of_a_new_worker(prior_mean: float) -> None:
    assert estimate_skill([], TierPolicy(prior_mean=prior_mean)).mean == pytest.approx(prior_mean)


def test_one_perfect_answer_is_pulled_towards_the_prior() -> None:
    # (0.7 * 4 + 1) / (4 + 1) = 0.76, not 1.0.
    assert estimate_skill([1.0]).mean == pytest.approx(0.76)
    assert decide_tier(WorkerTier.TRAINEE, estimate_skill([1.0]), POLICY).tier is WorkerTier.TRAINEE


def test_a_stronger_prior_pulls_harder() -> None:
    scores = [1.0] * 5
    weak = estimate_skill(scores, TierPolicy(prior_strength=4.0)).mean
    strong = estimate_skill(scores, TierPolicy(prior_strength=40.0)).mean
    assert abs(strong - 0.7) < abs(weak - 0.7)
    assert weak == pytest.approx((2.8 + 5) / 9)
    assert strong == pytest.approx((28 + 5) / 45)


@pytest.mark.parametrize("prior_mean", [0.2, 0.9])
def test_many_answers_wash_the_prior_out(prior_mean: float) -> None:
    estimate = estimate_skill([0.9] * 2000, TierPolicy(prior_mean=prior_mean))
    assert estimate.mean == pytest.approx(0.9, abs=0.002)
    assert estimate.upper - estimate.lower < 0.03


@pytest.mark.parametrize(
    ("raw", "clamped"),
    [
        ([1.5], [1.0]),
        ([-0.5], [0.0]),
        ([2.0, -3.0, 0.4], [1.0, 0.0, 0.4]),
    ],
)
def test_out_of_range_scores_count_as_the_nearest_bound(
    raw: list[float], clamped: list[float]
) -> None:
    assert estimate_skill(raw) == estimate_skill(clamped)


@pytest.mark.parametrize("fault", [math.nan, -math.nan, math.inf, -math.inf])
def test_a_non_finite_score_is_left_out(fault: float) -> None:
    # Clamping would count NaN and -inf as wrong answers and inf as a right one.
    scores = [1.0] * 12
    with_fault = estimate_skill([*scores, fault, *scores])
    assert with_fault == estimate_skill(scores * 2)
    assert with_fault.answers == 24


def test_a_nan_score_cannot_pause_a_worker() -> None:
    # Ten NaNs counted as zeros would be ten failed answers: enough evidence to pause.
    estimate = estimate_skill([math.nan] * 10)
    assert estimate == estimate_skill([])
    assert not decide_tier(WorkerTier.QUALIFIED, estimate, POLICY).paused
    assert decide_tier(WorkerTier.QUALIFIED, estimate_skill([0.0] * 10), POLICY).paused


def test_a_non_numeric_score_is_rejected() -> None:
    with pytest.raises(ValueError):
        estimate_skill([0.5, "high"])  # type: ignore[list-item]


def test_a_one_shot_iterable_is_read_once_and_fully() -> None:
    scores = [1.0, 0.0, 0.5, 0.25]
    assert estimate_skill(iter(scores)) == estimate_skill(scores)
    assert estimate_skill(s for s in scores).answers == 4


def test_bounds_stay_ordered_and_inside_the_unit_interval() -> None:
    rng = random.Random(7)
    for n in range(0, 80, 3):
        estimate = estimate_skill([rng.random() for _ in range(n)])
        assert 0.0 <= estimate.lower <= estimate.mean <= estimate.upper <= 1.0


def _score_lists() -> list[list[float]]:
    rng = random.Random(2024)
    lists = [[1.0] * k + [0.0] * (n - k) for n in range(0, 30, 3) for k in range(n + 1)]
    lists += [[round(rng.random(), 3) for _ in range(rng.randrange(0, 60))] for _ in range(60)]
    return lists


def test_a_perfect_answer_never_lowers_the_estimate() -> None:
    for scores in _score_lists():
        before, after = estimate_skill(scores), estimate_skill([*scores, 1.0])
        assert after.mean >= before.mean
        assert after.lower >= before.lower - 1e-12


def test_a_failed_answer_never_raises_the_estimate() -> None:
    for scores in _score_lists():
        before, after = estimate_skill(scores), estimate_skill([*scores, 0.0])
        assert after.mean <= before.mean
        assert after.upper <= before.upper + 1e-12


def test_raising_one_score_never_lowers_mean_or_lower_bound() -> None:
    rng = random.Random(99)
    for scores in _score_lists():
        if not scores:
            continue
        i = rng.randrange(len(scores))
        better = [*scores[:i], min(1.0, scores[i] + 0.3), *scores[i + 1 :]]
        assert estimate_skill(better).mean >= estimate_skill(scores).mean
        assert estimate_skill(better).lower >= estimate_skill(scores).lower - 1e-12


def test_more_evidence_at_the_same_level_narrows_the_interval() -> None:
    widths = [(e.upper - e.lower) for e in (estimate_skill([0.6] * n) for n in (10, 20, 40, 80))]
    assert widths == sorted(widths, reverse=True)
    assert len(set(widths)) == len(widths)


# -- consensus_weight -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mean", "weight"), [(0.0, 0.05), (0.01, 0.05), (0.05, 0.05), (0.06, 0.06), (0.9, 0.9)]
)
def test_consensus_weight_is_the_skill_with_a_floor(mean: float, weight: float) -> None:
    assert skill(mean=mean).consensus_weight == pytest.approx(weight)


def test_a_hopeless_worker_still_has_the_floor_weight() -> None:
    # Mean 2.8 / 504 is about 0.0056, under the floor.
    assert estimate_skill([0.0] * 500).consensus_weight == 0.05


# -- decide_tier at its thresholds ------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "upper", "paused"),
    [
        (10, below(0.5), True),  # enough answers, upper just under the floor
        (10, 0.5, False),  # exactly at the floor is not under it
        (10, 0.49, True),
        (9, 0.0, False),  # one answer short: never paused, however bad
        (1000, 0.1, True),
        (1000, 0.51, False),
    ],
)
@pytest.mark.parametrize("current", list(WorkerTier))
def test_pause_needs_enough_answers_and_an_upper_bound_under_the_floor(
    current: WorkerTier, answers: int, upper: float, paused: bool
) -> None:
    decision = decide_tier(current, skill(mean=upper / 2, upper=upper, answers=answers), POLICY)
    assert decision.paused is paused
    if paused:
        assert decision.tier is WorkerTier.TRAINEE  # paid tiers are lost: training tasks only
        assert "paused" in decision.reason
    else:
        assert decision.tier is current  # not good enough to promote, never demoted


@pytest.mark.parametrize(
    ("answers", "lower", "tier"),
    [
        (20, 0.80, WorkerTier.QUALIFIED),  # exactly at both thresholds
        (20, below(0.80), WorkerTier.TRAINEE),
        (19, 1.0, WorkerTier.TRAINEE),  # one answer short
        (21, 0.85, WorkerTier.QUALIFIED),
        (49, 0.99, WorkerTier.QUALIFIED),  # reviewer-level skill, one answer short of reviewer
        (50, 0.92, WorkerTier.REVIEWER),  # a trainee may go straight to reviewer
        (50, below(0.92), WorkerTier.QUALIFIED),
    ],
)
def test_trainee_promotion_at_the_thresholds(answers: int, lower: float, tier: WorkerTier) -> None:
    decision = decide_tier(WorkerTier.TRAINEE, skill(lower=lower, answers=answers), POLICY)
    assert decision.tier is tier
    assert decision.paused is False


@pytest.mark.parametrize(
    ("answers", "lower", "tier"),
    [
        (50, 0.92, WorkerTier.REVIEWER),
        (50, below(0.92), WorkerTier.QUALIFIED),
        (49, 1.0, WorkerTier.QUALIFIED),
        (500, 0.3, WorkerTier.QUALIFIED),  # weak but not under the pause floor: kept
    ],
)
def test_qualified_promotion_at_the_thresholds(
    answers: int, lower: float, tier: WorkerTier
) -> None:
    decision = decide_tier(WorkerTier.QUALIFIED, skill(lower=lower, answers=answers), POLICY)
    assert (decision.tier, decision.paused) == (tier, False)


@pytest.mark.parametrize(("answers", "lower"), [(0, 0.0), (5, 0.1), (60, 0.95), (60, 0.5)])
def test_a_reviewer_not_under_the_floor_stays_a_reviewer(answers: int, lower: float) -> None:
    decision = decide_tier(WorkerTier.REVIEWER, skill(lower=lower, answers=answers), POLICY)
    assert (decision.tier, decision.paused, decision.reason) == (
        WorkerTier.REVIEWER,
        False,
        "unchanged",
    )


def test_pause_wins_over_promotion() -> None:
    # Contradictory bounds cannot come from estimate_skill; the safe outcome must still win.
    odd = skill(lower=0.99, upper=0.4, answers=100)
    assert decide_tier(WorkerTier.TRAINEE, odd, POLICY).paused is True


def test_thresholds_come_from_the_policy() -> None:
    lenient = TierPolicy(qualify_lower=0.5, qualify_min_answers=3, pause_upper=0.2)
    middling = skill(lower=0.5, upper=0.9, answers=3)
    assert decide_tier(WorkerTier.TRAINEE, middling, lenient).tier is WorkerTier.QUALIFIED
    assert decide_tier(WorkerTier.TRAINEE, middling, POLICY).tier is WorkerTier.TRAINEE
    poor = skill(lower=0.0, upper=0.3, answers=12)
    assert decide_tier(WorkerTier.TRAINEE, poor, POLICY).paused is True
    assert decide_tier(WorkerTier.TRAINEE, poor, lenient).paused is False


# -- decide_tier from real score histories ----------------------------------------------------


@pytest.mark.parametrize(
    ("perfect_answers", "tier"),
    [
        (1, WorkerTier.TRAINEE),
        (19, WorkerTier.TRAINEE),  # lower bound (21.8 / 23 - 1.96 sd = 0.86) is enough; count not
        (20, WorkerTier.QUALIFIED),  # 22.8 / 24 - 1.96 * 0.0436 = 0.865 >= 0.80
        (49, WorkerTier.QUALIFIED),
        (50, WorkerTier.REVIEWER),  # 52.8 / 54 - 1.96 * 0.0199 = 0.939 >= 0.92
    ],
)
def test_a_perfect_trainee_is_promoted_once_the_answer_counts_are_met(
    perfect_answers: int, tier: WorkerTier
) -> None:
    estimate = estimate_skill([1.0] * perfect_answers)
    assert decide_tier(WorkerTier.TRAINEE, estimate, POLICY).tier is tier


@pytest.mark.parametrize(("failed_answers", "paused"), [(9, False), (10, True), (30, True)])
def test_a_failing_worker_is_paused_from_the_tenth_answer(
    failed_answers: int, paused: bool
) -> None:
    # 9 zeros: Beta(2.8, 10.2), upper 0.215 + 1.96 * 0.110 = 0.43 (under 0.5, but too few answers).
    # 10 zeros: Beta(2.8, 11.2), upper 0.2 + 1.96 * 0.103 = 0.40.
    estimate = estimate_skill([0.0] * failed_answers)
    assert estimate.upper < POLICY.pause_upper
    decision = decide_tier(WorkerTier.QUALIFIED, estimate, POLICY)
    assert decision.paused is paused
    assert decision.tier is (WorkerTier.TRAINEE if paused else WorkerTier.QUALIFIED)


def test_an_average_worker_is_neither_paused_nor_promoted() -> None:
    estimate = estimate_skill([0.7] * 200)
    decision = decide_tier(WorkerTier.TRAINEE, estimate, POLICY)
    assert (decision.tier, decision.paused) == (WorkerTier.TRAINEE, False)


def test_tiers_only_rise_along_a_run_of_good_answers() -> None:
    rng = random.Random(5)
    tier, scores, ranks = WorkerTier.TRAINEE, [], []
    for _ in range(120):
        scores.append(rng.uniform(0.96, 1.0))  # mean about 0.98
        decision = decide_tier(tier, estimate_skill(scores), POLICY)
        assert decision.paused is False
        tier = decision.tier
        ranks.append(TIER_RANK[tier])
    assert ranks == sorted(ranks)
    assert tier is WorkerTier.REVIEWER


def test_a_run_of_bad_answers_never_promotes() -> None:
    rng = random.Random(6)
    scores: list[float] = []
    for n in range(1, 60):
        scores.append(rng.uniform(0.0, 0.3))
        decision = decide_tier(WorkerTier.TRAINEE, estimate_skill(scores), POLICY)
        assert decision.tier is WorkerTier.TRAINEE
        if decision.paused:
            assert n >= POLICY.pause_min_answers
    assert decision.paused is True
