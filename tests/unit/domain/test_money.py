"""Money: integer minor units per ISO 4217 currency, exact parsing, half-up shares."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain.money import Money, MoneyError, minor_unit_digits, parse_amount


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [("12.50", "KES", 1250), ("12.5", "KES", 1250), ("500", "UGX", 500), ("1.250", "JOD", 1250),
     (7, "KES", 700), (Decimal("0.01"), "USD", 1), ("0", "KES", 0), ("1e2", "KES", 10_000)],
)  # fmt: skip
def test_parse_amount_is_exact(text, currency, minor) -> None:  # type: ignore[no-untyped-def]
    assert parse_amount(text, currency) == Money(currency, minor)


@pytest.mark.parametrize(
    ("text", "currency"),
    [("1.005", "KES"), ("10.5", "UGX"), ("1.0005", "JOD"), (1.5, "KES"), (True, "KES"),
     ("ten", "KES"), ("NaN", "KES"), ("Infinity", "KES"), ("1", "XYZ"), ("1", "kes")],
)  # fmt: skip
def test_parse_amount_refuses_what_the_currency_cannot_hold(text, currency) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MoneyError):
        parse_amount(text, currency)


def test_digits_and_formatting() -> None:
    assert [minor_unit_digits(c) for c in ("KES", "UGX", "JOD", "CLF")] == [2, 0, 3, 4]
    assert Money("KES", 123456).format() == "KES 1,234.56"
    assert Money("UGX", 5000).format() == "UGX 5,000"
    assert Money("JOD", -1250).format() == "JOD -1.250"
    assert Money("KES", 5).major_text() == "0.05"
    assert Money("KES", 1250).as_json() == {"currency": "KES", "minor": 1250, "text": "KES 12.50"}


def test_no_floats_and_no_mixed_currencies() -> None:
    with pytest.raises(MoneyError):
        Money("KES", 1.5)  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money("KES", 1) + Money("UGX", 1)
    with pytest.raises(MoneyError):
        Money("KES", 1).share(1, 0)


def test_share_rounds_half_up() -> None:
    assert Money("KES", 1250).share(8_500, 10_000) == Money("KES", 1063)
    assert Money("KES", 1).share(1, 2) == Money("KES", 1)
    assert Money("KES", 1).share(1, 3) == Money("KES", 0)


@settings(max_examples=300, deadline=None)
@given(minor=st.integers(-(10**12), 10**12), currency=st.sampled_from(["KES", "UGX", "JOD"]))
def test_major_text_parses_back_exactly(minor: int, currency: str) -> None:
    money = Money(currency, minor)
    assert parse_amount(money.major_text(), currency) == money


@settings(max_examples=300, deadline=None)
@given(minor=st.integers(0, 10**12), bps=st.integers(0, 10_000))
def test_a_share_and_its_rest_add_up_within_one_minor_unit(minor: int, bps: int) -> None:
    money = Money("KES", minor)
    part, rest = money.share(bps, 10_000), money.share(10_000 - bps, 10_000)
    assert 0 <= part.minor <= minor
    assert abs((part + rest).minor - minor) <= 1
