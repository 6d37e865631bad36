"""Every string the task pages show is in tasks.po, translated into Swahili and Arabic with the
same placeholders (so a page never falls back to English or breaks on a missing %(num)s)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

from engine.worker_app import i18n, task_views

TEMPLATES = Path(task_views.__file__).parent / "templates"
TASK_TEMPLATES = ["task_light.html", "task_full.html", "task_none.html", "task_done.html",
                  "_task_status.html", "_task_form.html"]  # fmt: skip
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s")


def _used() -> set[str | tuple[str, str]]:
    used: set[str | tuple[str, str]] = set()
    for name in TASK_TEMPLATES:
        for _, message, _, _ in extract_from_file(
            babel_extract, TEMPLATES / name, options={"extensions": "jinja2.ext.i18n"}
        ):
            used.add(message if isinstance(message, str) else tuple(message))  # type: ignore[arg-type]
    used |= set(task_views.OUTCOME_MESSAGES.values()) | set(task_views.REFUSAL_MESSAGES.values())
    used |= {task_views.LEASE_ENDED_MESSAGE, task_views.PAUSED_MESSAGE,
             task_views.TRAINING_MESSAGE, task_views.SKIPPED_MESSAGE}  # fmt: skip
    return used


@pytest.mark.parametrize("locale", ["en", "sw", "ar"])
def test_the_task_catalog_has_every_message_of_the_task_pages(locale: str) -> None:
    path = i18n.LOCALE_DIR / locale / "LC_MESSAGES" / "tasks.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale)
    for message in _used():
        key = message[0] if isinstance(message, tuple) else message
        entry = catalog.get(key)
        assert entry is not None, f"{locale}: {key!r} is not in tasks.po"
        if locale == "en":
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        assert all(strings), f"{locale}: {key!r} is not translated"
        wanted = set(PLACEHOLDER.findall(key))
        for text in strings:
            # A plural form may spell the number out (Arabic's one and two), never add one.
            assert set(PLACEHOLDER.findall(text)) <= wanted, (locale, key, text)
            assert text != key, f"{locale}: {key!r} is left in English"


def test_the_arabic_plural_has_all_six_forms() -> None:
    ngettext = i18n.translations("ar").ngettext
    forms = {n: ngettext("%(num)s word to check first", "%(num)s words to check first", n)
             for n in (0, 1, 2, 3, 11, 100)}  # fmt: skip
    assert len(set(forms.values())) >= 5 and "كلمتان" in forms[2]
