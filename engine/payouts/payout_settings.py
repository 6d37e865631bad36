"""Payout settings from the environment (``KAZI_`` prefix): the policy and the providers.

The policy variables are the ones of the pay design (KAZI_BENEFITS_SHARE_BPS,
KAZI_BENEFITS_MATCH_BPS, KAZI_PAYOUT_MIN_MINOR, KAZI_METHOD_CHANGE_HOLD_HOURS). Provider base
URLs come from here only (never from a request); their credentials are read through
``engine.secrets.provider_credential`` (environment only; generated in embedded mode).
KAZI_MOMO_CURRENCIES (comma-separated ISO 4217 codes) is what the MoMo account pays.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.domain.money import MoneyError, check_currency
from engine.domain.payout_plan import DEFAULT_MOMO_CURRENCIES


class PayoutSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAZI_", env_file=".env", extra="ignore")

    # Shares in basis points (500 = 5 %); the smallest payout in the currency's minor units.
    benefits_share_bps: int = Field(default=500, ge=0, le=10_000)
    benefits_match_bps: int = Field(default=0, ge=0, le=10_000)
    payout_min_minor: int = Field(default=0, ge=0)
    method_change_hold_hours: int = Field(default=48, ge=0)
    # Seconds to wait for a provider's answer; past it the payout is "unknown" and resent.
    provider_timeout_seconds: float = 15.0

    # M-Pesa Daraja (B2C). Sandbox: https://sandbox.safaricom.co.ke
    mpesa_base_url: str = ""
    mpesa_b2c_path: str = "/mpesa/b2c/v3/paymentrequest"
    mpesa_consumer_key: str = ""
    mpesa_consumer_secret: str = ""
    mpesa_security_credential: str = ""
    mpesa_initiator_name: str = "kazi"
    mpesa_shortcode: str = "600000"  # PartyA

    # MTN MoMo disbursement. Sandbox: https://sandbox.momodeveloper.mtn.com
    momo_base_url: str = ""
    momo_subscription_key: str = ""
    momo_api_user: str = ""
    momo_api_key: str = ""
    momo_target_environment: str = "sandbox"
    # The currencies this MoMo account pays: its market's (UGX, GHS, ...), EUR in the sandbox.
    momo_currencies: str = ",".join(sorted(DEFAULT_MOMO_CURRENCIES))

    @field_validator("momo_currencies")
    @classmethod
    def _iso_codes(cls, value: str) -> str:
        codes = [c.strip() for c in value.split(",") if c.strip()]
        if not codes:
            raise ValueError("KAZI_MOMO_CURRENCIES must name at least one ISO 4217 code")
        for code in codes:
            try:
                check_currency(code)
            except MoneyError as error:
                raise ValueError(f"KAZI_MOMO_CURRENCIES: {error}") from None
        return ",".join(codes)

    @property
    def momo_currency_set(self) -> frozenset[str]:
        return frozenset(self.momo_currencies.split(","))


def payout_settings() -> PayoutSettings:
    return PayoutSettings()
