"""Pay settings, read from the environment: hold days, fee and benefits shares, payout minimum,
the hold after a payout-method change, and the score an answer needs to count as accepted."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PayPolicy(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAZI_", env_file=".env", extra="ignore")

    # Earnings stay pending this long before they can be paid out (disputes and corrections).
    pay_hold_days: int = Field(default=7, ge=0, le=365)
    # Shares in basis points (1500 = 15 %).
    platform_fee_bps: int = Field(default=1500, ge=0, le=10_000)
    # Benefits shares, the smallest payout and the method-change hold are payout settings
    # (engine/payouts/payout_settings.py).
    # accepted_only: an answer whose score against the final result reaches this is accepted
    # (answers with a right/wrong verdict use that verdict instead).
    accept_min_score: float = Field(default=0.8, ge=0.0, le=1.0)

    @property
    def accept_min_score_bps(self) -> int:
        """The threshold as integer basis points: rules compare integers, never floats."""
        return round(self.accept_min_score * 10_000)


@lru_cache(maxsize=1)
def pay_policy() -> PayPolicy:
    return PayPolicy()
