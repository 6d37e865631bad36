"""Payout API payloads (worker payout methods, staff payout runs)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool


class PayoutMethodRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1, max_length=40, description="mpesa | mtn_momo | csv:<label>")
    msisdn: str = Field(
        min_length=3,
        max_length=32,
        description="The mobile number, international form (+254712345678)",
    )
    account_name: str = Field(min_length=1, max_length=200, description="Name on the account")
    region: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{2}$",
        description="ISO 3166 country of a number given without its country code",
    )


class ConfirmMethodRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[0-9]{6}$", description="The 6-digit confirmation code")


class PayoutRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    min_amount: str | None = Field(
        default=None,
        pattern=r"^[0-9]{1,15}(\.[0-9]{1,4})?$",
        description="Pay only balances at least this (decimal, e.g. '100.00')",
    )
    provider: str | None = Field(default=None, max_length=40)
    benefits: StrictBool = Field(default=False, description="A benefits withdrawal run")
