"""Billing settings, read from the environment (prefix ``KAZI_``): the taxes an invoice adds.

``KAZI_TAX_RATES`` lists ``NAME:BPS`` pairs, comma-separated (``VAT:1600`` is 16 % VAT;
``VAT:1600,LEVY:150`` two taxes); empty (the default) means no tax line. The platform fee is
the pay policy's ``KAZI_PLATFORM_FEE_BPS`` (engine/ledger/pay_policy.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_TAX = re.compile(r"^([A-Za-z][A-Za-z0-9 _-]{0,39}):(\d{1,5})$")


@dataclass(frozen=True, slots=True)
class TaxRate:
    name: str
    bps: int


def parse_tax_rates(text: str) -> tuple[TaxRate, ...]:
    rates = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        match = _TAX.match(part)
        if match is None or int(match.group(2)) > 10_000:
            raise ValueError(
                f"KAZI_TAX_RATES: {part!r} is not NAME:BPS (basis points 0-10000, e.g. VAT:1600)"
            )
        rates.append(TaxRate(match.group(1).strip(), int(match.group(2))))
    names = [r.name for r in rates]
    if len(set(names)) != len(names):
        raise ValueError("KAZI_TAX_RATES names a tax twice")
    return tuple(rates)


class BillingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAZI_", env_file=".env", extra="ignore")

    tax_rates: str = ""

    @field_validator("tax_rates")
    @classmethod
    def _valid_rates(cls, value: str) -> str:
        parse_tax_rates(value)
        return value

    def taxes(self) -> tuple[TaxRate, ...]:
        return parse_tax_rates(self.tax_rates)
