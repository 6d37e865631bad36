"""Training settings from the environment: KAZI_TRAINING_PRACTICE_MIN_ITEMS (practice answers
before the qualification set, default 3) and KAZI_TRAINING_QUALIFY_MIN_SCORE (the mean score
that passes it, default 0.8)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.domain.training_path import TrainingRules


class TrainingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAZI_TRAINING_", env_file=".env", extra="ignore")

    practice_min_items: int = Field(default=3, ge=0, le=1000)
    qualify_min_score: float = Field(default=0.8, ge=0.0, le=1.0)

    def rules(self) -> TrainingRules:
        return TrainingRules(self.practice_min_items, self.qualify_min_score)


@lru_cache(maxsize=1)
def training_rules() -> TrainingRules:
    """The configured rules, read once per process (settings do not change while it runs)."""
    return TrainingSettings().rules()
