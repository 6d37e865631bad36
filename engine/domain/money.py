"""Money as integers in a currency's minor unit, with its ISO 4217 code. No floats, ever.

``Money(1250, "KES")`` is KES 12.50; ``Money(500, "UGX")`` is UGX 500 (no minor unit);
``Money(1250, "JOD")`` is JOD 1.250 (three decimals). Amounts from people (an API, a spec, a
CLI flag) arrive as decimal strings and are parsed exactly with ``parse_amount``; a value with
more decimals than the currency has is refused, never rounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# ISO 4217 active codes whose minor unit is not 2 decimals.
_ZERO_DECIMALS = _codes("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF")
_THREE_DECIMALS = _codes("BHD IQD JOD KWD LYD OMR TND")
_FOUR_DECIMALS = _codes("CLF UYW")
# Active ISO 4217 codes (2024 list, funds and precious metals left out).
ISO_4217_CODES = _codes("""
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
    KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
    MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
    SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD
    TZS UAH UGX USD UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWG
    """)


class MoneyError(ValueError):
    """An amount or currency the money path cannot take."""


def check_currency(code: str) -> str:
    if not isinstance(code, str) or code not in ISO_4217_CODES:
        raise MoneyError(f"{code!r} is not an ISO 4217 currency code")
    return code


def minor_unit_digits(currency: str) -> int:
    """How many decimals the currency's minor unit has (KES 2, UGX 0, JOD 3)."""
    check_currency(currency)
    if currency in _ZERO_DECIMALS:
        return 0
    if currency in _THREE_DECIMALS:
        return 3
    if currency in _FOUR_DECIMALS:
        return 4
    return 2


def check_minor(amount: object) -> int:
    """An amount in minor units must be a plain int (bool and float are refused)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise MoneyError(f"amounts are whole minor units (int), not {type(amount).__name__}")
    return amount


@dataclass(frozen=True, slots=True, order=True)
class Money:
    currency: str
    minor: int

    def __post_init__(self) -> None:
        check_currency(self.currency)
        check_minor(self.minor)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(currency, 0)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.currency, self.minor + other.minor)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.currency, self.minor - other.minor)

    def __neg__(self) -> Money:
        return Money(self.currency, -self.minor)

    def times(self, count: int) -> Money:
        return Money(self.currency, self.minor * check_minor(count))

    def share(self, numerator: int, denominator: int) -> Money:
        """``self * numerator / denominator`` rounded half up to a whole minor unit
        (basis points: ``share(bps, 10_000)``)."""
        check_minor(numerator)
        check_minor(denominator)
        if denominator <= 0:
            raise MoneyError("a share needs a positive denominator")
        whole, rest = divmod(self.minor * numerator, denominator)
        return Money(self.currency, whole + (1 if 2 * rest >= denominator else 0))

    def is_negative(self) -> bool:
        return self.minor < 0

    def _same_currency(self, other: Money) -> None:
        if not isinstance(other, Money) or other.currency != self.currency:
            raise MoneyError(f"cannot mix {self.currency} with {getattr(other, 'currency', other)}")

    def format(self) -> str:
        """``KES 12.50``, ``UGX 500``, ``JOD 1.250``."""
        digits = minor_unit_digits(self.currency)
        sign = "-" if self.minor < 0 else ""
        whole, part = divmod(abs(self.minor), 10**digits)
        if digits == 0:
            return f"{self.currency} {sign}{whole:,}"
        return f"{self.currency} {sign}{whole:,}.{part:0{digits}d}"

    def major_text(self) -> str:
        """The amount as an exact decimal string without the code ("12.50")."""
        digits = minor_unit_digits(self.currency)
        return str(Decimal(self.minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits)))

    def as_json(self) -> dict[str, object]:
        return {"currency": self.currency, "minor": self.minor, "text": self.format()}


def parse_amount(text: str | int | Decimal, currency: str) -> Money:
    """A decimal amount in the currency's major unit ("12.50" KES) → Money(1250, "KES").
    More decimals than the currency has (or a float) is an error, never rounded."""
    if isinstance(text, float | bool):
        raise MoneyError("amounts are given as decimal strings, not floats")
    try:
        value = Decimal(text) if not isinstance(text, Decimal) else text
    except (InvalidOperation, ValueError):
        raise MoneyError(f"{text!r} is not a decimal amount") from None
    if not value.is_finite():
        raise MoneyError(f"{text!r} is not a finite amount")
    scaled = value.scaleb(minor_unit_digits(currency))
    if scaled != scaled.to_integral_value():
        raise MoneyError(
            f"{text} has more decimals than {currency} has ({minor_unit_digits(currency)})"
        )
    return Money(currency, int(scaled))
