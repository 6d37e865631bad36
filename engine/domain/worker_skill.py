"""Worker skill from scored answers, with uncertainty, and the tier it earns (pure).

Each scored answer contributes a score in [0, 1] (1 - WER for text, 1/0 for a label, box
match quality for boxes). Skill is the mean of a Beta posterior whose prior pulls workers with
few answers towards ``prior_mean``, so one lucky or unlucky answer does not decide a tier; its
95 % interval (normal approximation of the Beta) carries the uncertainty.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from engine.domain.lease_rules import WorkerTier


@dataclass(frozen=True)
class SkillEstimate:
    mean: float
    lower: float
    upper: float
    answers: int

    @property
    def consensus_weight(self) -> float:
        """Voting weight: the skill itself, never zero, so a new worker still counts a little."""
        return max(0.05, self.mean)


@dataclass(frozen=True)
class TierPolicy:
    prior_mean: float = 0.7
    prior_strength: float = 4.0
    qualify_lower: float = 0.80
    qualify_min_answers: int = 20
    reviewer_lower: float = 0.92
    reviewer_min_answers: int = 50
    # Under this upper bound, with enough answers, a worker is paused from paid tasks.
    pause_upper: float = 0.5
    pause_min_answers: int = 10


def estimate_skill(scores: Iterable[float], policy: TierPolicy = TierPolicy()) -> SkillEstimate:
    """Skill from ``scores`` (clamped to [0, 1]); non-finite scores are left out.

    A NaN or infinite score is a scoring fault, not evidence about the worker: clamping would
    count NaN as 0 (a wrong answer, which can pause them) and inf as 1, so they are skipped.
    """
    values = [min(1.0, max(0.0, s)) for s in map(float, scores) if math.isfinite(s)]
    alpha = policy.prior_mean * policy.prior_strength + sum(values)
    beta = (1 - policy.prior_mean) * policy.prior_strength + len(values) - sum(values)
    total = alpha + beta
    mean = alpha / total
    sd = math.sqrt(alpha * beta / (total * total * (total + 1)))
    return SkillEstimate(mean, max(0.0, mean - 1.96 * sd), min(1.0, mean + 1.96 * sd), len(values))


@dataclass(frozen=True)
class TierDecision:
    tier: WorkerTier
    paused: bool
    reason: str


def decide_tier(current: WorkerTier, skill: SkillEstimate, policy: TierPolicy) -> TierDecision:
    """Promote on a confident lower bound, pause on a confident upper bound; never demote a
    reviewer or qualified worker on thin evidence."""
    if skill.answers >= policy.pause_min_answers and skill.upper < policy.pause_upper:
        return TierDecision(
            WorkerTier.TRAINEE, True,
            f"skill {skill.mean:.2f} (at most {skill.upper:.2f}) is under the floor "
            f"{policy.pause_upper:.2f}: paused from paid tasks, training tasks only",
        )  # fmt: skip
    if (
        current is not WorkerTier.REVIEWER
        and skill.answers >= policy.reviewer_min_answers
        and skill.lower >= policy.reviewer_lower
    ):
        return TierDecision(WorkerTier.REVIEWER, False, f"skill at least {skill.lower:.2f}")
    if (
        current is WorkerTier.TRAINEE
        and skill.answers >= policy.qualify_min_answers
        and skill.lower >= policy.qualify_lower
    ):
        return TierDecision(WorkerTier.QUALIFIED, False, f"skill at least {skill.lower:.2f}")
    return TierDecision(current, False, "unchanged")
