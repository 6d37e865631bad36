"""Interface languages of the worker app: English, Swahili and Arabic (right to left).

Messages live in committed gettext catalogs, ``locales/<locale>/LC_MESSAGES/*.po``: one per
area (pages.po, tasks.po, training.po), merged per locale when first used; no compiled .mo is
committed. Numbers, money and dates are formatted for the locale with Babel; money from its
integer minor units through Decimal, never a float.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_datetime as babel_format_datetime
from babel.messages import mofile, pofile
from babel.numbers import format_currency
from babel.numbers import format_decimal as babel_format_decimal
from babel.numbers import format_percent as babel_format_percent
from babel.support import NullTranslations, Translations

from engine.domain.money import Money, minor_unit_digits

LOCALES = ("en", "sw", "ar")
DEFAULT_LOCALE = "en"
LANGUAGE_NAMES = {"en": "English", "sw": "Kiswahili", "ar": "العربية"}
LOCALE_DIR = Path(__file__).parent / "locales"
LANG_COOKIE = "kazi_lang"


def catalog_files(locale: str) -> list[Path]:
    return sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po"))


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> NullTranslations:
    """Every catalog of the locale merged into one; English falls back to the msgids."""
    merged: NullTranslations | None = None
    for path in catalog_files(locale if locale in LOCALES else DEFAULT_LOCALE):
        with path.open("rb") as po:
            catalog = pofile.read_po(po, locale=locale)
        buffer = io.BytesIO()
        mofile.write_mo(buffer, catalog)  # fuzzy entries are left out
        buffer.seek(0)
        compiled = Translations(buffer, domain=path.stem)
        if merged is None:
            merged = compiled
        elif isinstance(merged, Translations):
            merged.merge(compiled)
    return merged if merged is not None else NullTranslations()


def gettext(locale: str, message: str) -> str:
    return translations(locale).gettext(message)


def direction(locale: str) -> str:
    return "rtl" if Locale.parse(locale).text_direction == "rtl" else "ltr"


def pick_locale(session_locale: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The session's language, else the language cookie, else the browser's, else English."""
    for choice in (session_locale, cookie):
        if choice in LOCALES:
            return str(choice)
    for part in (accept_language or "")[:500].split(","):
        tag = part.split(";", 1)[0].strip().lower().replace("_", "-")
        base = tag.split("-", 1)[0]
        if base in LOCALES:
            return base
    return DEFAULT_LOCALE


def money_amount(money: Money) -> Decimal:
    """The amount in major units, exactly: minor units shifted by the currency's digits."""
    return Decimal(money.minor).scaleb(-minor_unit_digits(money.currency))


def as_money(value: Money | Mapping[str, Any]) -> Money:
    """Money, or the API's money JSON ({"currency", "minor", ...}) read back as Money."""
    if isinstance(value, Money):
        return value
    return Money(str(value["currency"]), int(value["minor"]))


def format_money(money: Money | Mapping[str, Any], locale: str) -> str:
    money = as_money(money)
    return str(format_currency(money_amount(money), money.currency, locale=locale))


def format_decimal(value: Decimal | int, locale: str) -> str:
    return str(babel_format_decimal(value, locale=locale))


def format_percent(share: float, locale: str) -> str:
    """A score (0..1) as a whole percent, for display only (never money)."""
    return str(babel_format_percent(Decimal(str(share)), locale=locale))


def format_datetime(moment: datetime, locale: str) -> str:
    return str(babel_format_datetime(moment, format="medium", locale=locale))
