"""Every string the app marks for translation (templates and Python, every area's) has a
Swahili and an Arabic translation in the merged catalogs, and the catalogs load."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from engine.worker_app import i18n

ROOT = Path(__file__).resolve().parents[3]
# The app's code and templates, and the training pages' code.
SOURCE_DIRS = [ROOT / "engine" / "worker_app", ROOT / "engine" / "training"]
METHOD_MAP = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
JINJA_OPTIONS = {
    "extensions": "jinja2.ext.i18n",
    "newstyle_gettext": "true",
    "trim_blocks": "true",
    "lstrip_blocks": "true",
}
TRANSLATED = ("sw", "ar")


def marked_messages() -> dict[str | tuple[str, ...], str]:
    """Each marked message (a plural as its tuple of forms) and where it was first found."""
    found: dict[str | tuple[str, ...], str] = {}
    for folder in SOURCE_DIRS:
        if not folder.is_dir():
            continue
        options = {"**/templates/**.html": JINJA_OPTIONS}
        for filename, lineno, message, _comments, _context in extract_from_dir(
            folder, METHOD_MAP, options
        ):
            key = message if isinstance(message, str) else tuple(m for m in message if m)
            found.setdefault(key, f"{folder.name}/{filename}:{lineno}")
    return found


def catalog_entries(locale: str) -> dict[str | tuple[str, ...], object]:
    entries: dict[str | tuple[str, ...], object] = {}
    for path in i18n.catalog_files(locale):
        with path.open("rb") as po:
            for message in read_po(po, locale=locale):
                if not message.id:
                    continue
                key = message.id if isinstance(message.id, str) else tuple(message.id)
                if not message.fuzzy:
                    entries[key] = message.string
    return entries


def test_the_extraction_finds_the_apps_strings() -> None:
    found = marked_messages()
    assert "Log in" in found and "Get a task" in found
    assert ("%(num)s more scored answer", "%(num)s more scored answers") in found
    assert "checked by a reviewer" in found  # N_() in Python


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_marked_string_is_translated(locale: str) -> None:
    entries = catalog_entries(locale)
    missing = []
    for message, where in sorted(marked_messages().items(), key=lambda kv: str(kv[0])):
        string = entries.get(message)
        forms = string if isinstance(string, tuple | list) else (string,)
        if not forms or not all(isinstance(f, str) and f.strip() for f in forms):
            missing.append(f"{where}: {message!r}")
    assert not missing, f"{len(missing)} strings without a {locale} translation:\n" + "\n".join(
        missing
    )


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translations_keep_their_placeholders(locale: str) -> None:
    import re

    placeholder = re.compile(r"%\((\w+)\)s")
    wrong = []
    for message, string in catalog_entries(locale).items():
        ids = (message,) if isinstance(message, str) else message
        wanted = set().union(*(placeholder.findall(i) for i in ids))
        forms = string if isinstance(string, tuple | list) else (string,)
        for form in forms:
            if isinstance(form, str) and form and set(placeholder.findall(form)) - wanted:
                wrong.append(f"{message!r} -> {form!r}")
    assert not wrong, wrong


def test_every_locale_has_a_catalog_and_they_merge() -> None:
    for locale in i18n.LOCALES:
        assert i18n.catalog_files(locale), locale
    ar = i18n.translations("ar")
    assert ar.gettext("Log in") == "تسجيل الدخول"
    assert i18n.translations("sw").gettext("Log in") == "Ingia"
    assert i18n.translations("en").gettext("Log in") == "Log in"
    # Arabic has six plural forms; each count picks its own.
    forms = {ar.ngettext("%(num)s more scored answer", "%(num)s more scored answers", n)
             for n in (0, 1, 2, 3, 11, 100)}  # fmt: skip
    assert len(forms) >= 5
