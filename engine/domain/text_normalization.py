"""Text normalisation used before any scoring or voting on transcripts.

The engine has ONE normalisation, :func:`normalize_text`, applied to both sides of every
comparison (WER, CER, word diffs) and to the answers that text consensus votes on:

1. Unicode NFKC; typographic apostrophes (``’ ‘ ´ ` ʼ``) become ``'``.
2. Lower case.
3. Numbers: digits stay digits and form their own tokens; they are never spelled out, so
   ``"42"`` and ``"forty two"`` differ. Inside a number a comma is dropped
   (``"100,000"`` -> ``"100000"``) and a decimal point is kept (``"3.5"``).
4. Apostrophes are kept inside words (``"don't"``, ``"brewer's"``) and removed elsewhere
   (quotes).
5. Every other punctuation or symbol character (hyphens and dashes included) is a word
   break: ``"air-tight"`` -> ``"air tight"``, as in LibriSpeech references.
6. Whitespace is collapsed to single spaces and trimmed.

:func:`crowdspeech_normalize` is the CrowdSpeech authors' normalisation (lower case, then
delete every character that is not a word character, apostrophe or space), kept separately
so that figures can be compared with their published ones.
"""

import re
import unicodedata

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "´": "'", "`": "'", "ʼ": "'"})
_NUMBER_COMMA = re.compile(r"(?<=\d),(?=\d)")
_DECIMAL_POINT = re.compile(r"(?<=\d)\.(?=\d)")
_DECIMAL_PLACEHOLDER = "\x00"
# Anything that is not a letter, digit, apostrophe, whitespace or the decimal placeholder.
_NON_WORD = re.compile(r"[^\w'\s\x00]|_")
_EDGE_APOSTROPHES = re.compile(r"(?<!\w)'+|'+(?!\w)")
_WHITESPACE = re.compile(r"\s+")

_CROWDSPEECH_DELETE = re.compile(r"[^\w' ]")


def normalize_text(text: str) -> str:
    """Return ``text`` under the engine's one normalisation (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    text = _NUMBER_COMMA.sub("", text)
    text = _DECIMAL_POINT.sub(_DECIMAL_PLACEHOLDER, text)
    text = _NON_WORD.sub(" ", text)
    text = _EDGE_APOSTROPHES.sub(" ", text)
    text = text.replace(_DECIMAL_PLACEHOLDER, ".")
    return _WHITESPACE.sub(" ", text).strip()


def normalize_words(text: str) -> list[str]:
    """Tokens of ``text`` under :func:`normalize_text`."""
    return normalize_text(text).split()


def crowdspeech_normalize(text: str) -> str:
    """The CrowdSpeech authors' normalisation, for comparison with their figures.

    Lower case, then delete every character that is not a word character, apostrophe or
    space. Line breaks and tabs count as spaces here (they separate words in the crowd
    answers); runs of spaces are collapsed.
    """
    text = _WHITESPACE.sub(" ", text.lower())
    return _WHITESPACE.sub(" ", _CROWDSPEECH_DELETE.sub("", text)).strip()


# --- Spoken form --------------------------------------------------------------------------
# Verbatim transcripts (LibriSpeech style) spell numbers and titles out. Crowd workers mix
# "16" and "sixteen", "mrs" and "missus"; mapping both to the spoken form before voting lets
# their votes agree. This is an opt-in transcription style, not part of normalize_text.

_ONES = [
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen"),
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_TITLES = {"mr": "mister", "mrs": "missus", "dr": "doctor"}
_INTEGER = re.compile(r"\d+")
_ORDINAL = re.compile(r"(\d+)(st|nd|rd|th)")
_DECIMAL = re.compile(r"(\d+)\.(\d+)")
_MAX_SPOKEN = 10**12


def _below_thousand(number: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(number, 100)
    if hundreds:
        words += [_ONES[hundreds], "hundred"]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens])
        if ones:
            words.append(_ONES[ones])
    elif rest or not words:
        words.append(_ONES[rest])
    return words


def cardinal_words(number: int) -> list[str]:
    """English words for 0 <= number < 10**12: 1905 -> one thousand nine hundred five."""
    if not 0 <= number < _MAX_SPOKEN:
        raise ValueError(f"cannot spell out {number}")
    if number < 1000:
        return _below_thousand(number)
    words: list[str] = []
    for scale, name in _SCALES:
        count, number = divmod(number, scale)
        if count:
            words += _below_thousand(count) + [name]
    if number:
        words += _below_thousand(number)
    return words


def _year_words(number: int) -> list[str]:
    century, rest = divmod(number, 100)
    if rest == 0:
        return _below_thousand(century) + ["hundred"]
    if rest < 10:
        return _below_thousand(century) + ["o", _ONES[rest]]
    return _below_thousand(century) + _below_thousand(rest)


def _ordinal(words: list[str]) -> list[str]:
    last = words[-1]
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return words[:-1] + [last]


def _number_token_words(token: str) -> list[str] | None:
    if (match := _ORDINAL.fullmatch(token)) is not None:
        return _ordinal(cardinal_words(int(match.group(1))))
    if (match := _DECIMAL.fullmatch(token)) is not None:
        whole, fraction = match.groups()
        return cardinal_words(int(whole)) + ["point"] + [_ONES[int(d)] for d in fraction]
    if _INTEGER.fullmatch(token) is None or len(token) > 12:
        return None
    number = int(token)
    # Four-digit numbers from 1100 to 1999 (but not 1x00 in thousands) are read as years.
    if len(token) == 4 and 1100 <= number <= 1999:
        return _year_words(number)
    return cardinal_words(number)


def spoken_form(words: list[str]) -> list[str]:
    """Spell out numbers and common titles in normalised tokens (from :func:`normalize_words`).

    ``16`` -> ``sixteen``, ``16th`` -> ``sixteenth``, ``1839`` -> ``eighteen thirty nine``,
    ``1905`` -> ``nineteen o five``, ``3.5`` -> ``three point five``, ``mrs`` -> ``missus``,
    ``mr`` -> ``mister``, ``dr`` -> ``doctor``. Other tokens are returned unchanged.
    """
    result: list[str] = []
    for word in words:
        if word in _TITLES:
            result.append(_TITLES[word])
        elif word[0].isdigit() and (spelled := _number_token_words(word)) is not None:
            result += spelled
        else:
            result.append(word)
    return result
