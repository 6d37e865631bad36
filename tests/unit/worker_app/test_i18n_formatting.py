"""Language choice, direction and locale formatting (money from minor units, exactly)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.domain.money import Money
from engine.worker_app import i18n


@pytest.mark.parametrize(
    ("session", "cookie", "accept", "expected"),
    [
        ("ar", "sw", "en", "ar"),
        (None, "sw", "ar", "sw"),
        (None, "xx", "ar-EG,ar;q=0.9", "ar"),
        (None, None, "fr-FR, sw;q=0.8", "sw"),
        (None, None, "fr-FR", "en"),
        (None, None, None, "en"),
        (None, None, "," * 10_000, "en"),
        ("de", None, "SW_tz", "sw"),
    ],
)
def test_pick_locale(
    session: str | None, cookie: str | None, accept: str | None, expected: str
) -> None:
    assert i18n.pick_locale(session, cookie, accept) == expected


def test_direction() -> None:
    assert i18n.direction("ar") == "rtl"
    assert i18n.direction("sw") == i18n.direction("en") == "ltr"


@pytest.mark.parametrize(
    ("money", "locale", "text"),
    [
        (Money("KES", 125050), "en", "KES1,250.50"),
        (Money("KES", 125050), "sw", "Ksh\xa01,250.50"),
        (Money("KES", 125050), "ar", "\u200f1,250.50\xa0KES"),
        (Money("UGX", 5000), "en", "UGX5,000"),
        (Money("JOD", 1250), "en", "JOD1.250"),
        (Money("KES", -5), "en", "-KES0.05"),
        # Far past a float's exact range: still exact.
        (Money("KES", 12345678901234567), "en", "KES123,456,789,012,345.67"),
    ],
)
def test_money_is_formatted_from_minor_units(money: Money, locale: str, text: str) -> None:
    assert i18n.format_money(money, locale) == text


def test_money_amount_is_exact() -> None:
    assert i18n.money_amount(Money("KES", 1)) == Decimal("0.01")
    assert i18n.money_amount(Money("JOD", 1)) == Decimal("0.001")
    assert i18n.format_money({"currency": "KES", "minor": 250, "text": "x"}, "en") == "KES2.50"


def test_numbers_and_percentages_follow_the_locale() -> None:
    assert i18n.format_decimal(1234567, "en") == "1,234,567"
    assert i18n.format_percent(0.8, "en") == "80%"
    assert i18n.format_percent(0.8, "ar").replace("\u200e", "").startswith("80")
