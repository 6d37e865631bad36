"""What the worker's next tier needs, from their skill estimate and the tier policy (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.domain.lease_rules import WorkerTier
from engine.domain.worker_skill import SkillEstimate, TierPolicy


@dataclass(frozen=True)
class NextTier:
    tier: WorkerTier
    answers_needed: int  # more scored answers before the tier can be reached (0: enough)
    skill_needed: float  # the lower bound of skill the tier asks for
    skill_now: float  # the worker's lower bound now

    @property
    def skill_short(self) -> bool:
        return self.skill_now < self.skill_needed


def next_tier(tier: str, skill: SkillEstimate, policy: TierPolicy) -> NextTier | None:
    """None for a reviewer (the top tier)."""
    if tier == WorkerTier.TRAINEE.value:
        target, answers, lower = (
            WorkerTier.QUALIFIED,
            policy.qualify_min_answers,
            policy.qualify_lower,
        )
    elif tier == WorkerTier.QUALIFIED.value:
        target, answers, lower = (
            WorkerTier.REVIEWER,
            policy.reviewer_min_answers,
            policy.reviewer_lower,
        )
    else:
        return None
    return NextTier(target, max(0, answers - skill.answers), lower, skill.lower)
