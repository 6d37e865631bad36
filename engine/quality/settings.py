"""What the score and review use cases are tuned by (from the engine's Settings)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.domain.worker_skill import TierPolicy
from engine.settings import Settings


@dataclass(frozen=True)
class QualitySettings:
    review_threshold: float = 0.75
    review_sample_rate: float = 0.05
    lease_seconds: float = 900.0
    policy: TierPolicy = TierPolicy()

    @classmethod
    def from_settings(cls, s: Settings) -> QualitySettings:
        return cls(
            s.review_agreement_threshold,
            s.review_sample_rate,
            float(s.lease_seconds),
            TierPolicy(
                s.skill_prior_mean,
                s.skill_prior_strength,
                s.skill_qualify_lower,
                s.skill_qualify_min_answers,
                s.skill_reviewer_lower,
                s.skill_reviewer_min_answers,
                s.skill_pause_upper,
                s.skill_pause_min_answers,
            ),  # fmt: skip
        )
