"""How simulated trainee workers get answers wrong (pure: a seeded ``random.Random``, no I/O).

A :class:`WorkerProfile` holds one worker's error rates; the functions below turn a true answer
into that worker's answer:

- :func:`noisy_transcript`: word errors at the profile's rate as the engine measures them
  (:func:`engine.domain.scoring.word_error_rate`): substitutions by sound-alike words, word
  forms and one-key typos, dropped short function words, stutters and fillers; plus casing and
  punctuation variation, which normalisation forgives. Given a machine draft, the worker keeps
  some of the draft's mistakes (the worse the worker, the more) and makes fewer fresh ones, so
  the total stays near the profile's rate.
- :func:`noisy_label`: wrong labels mostly fall on one fixed neighbour (the option next to the
  right one), not uniformly, as real confusions do.
- :func:`noisy_boxes`: edges jittered in proportion to the box, missed boxes, extra boxes,
  everything kept inside the image.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from typing import Any

from engine.domain.lease_rules import WorkerTier
from engine.domain.text_normalization import normalize_words


@dataclass(frozen=True)
class WorkerProfile:
    """One simulated worker. Rates are probabilities in [0, 1].

    ``box_jitter`` is the standard deviation of each box edge as a fraction of the box's width
    (left, right) or height (top, bottom); ``box_miss_rate`` and ``box_extra_rate`` are per
    true box. ``seconds_per_task`` is the worker's typical time on one task.
    """

    handle: str
    tier: str
    word_error_rate: float
    label_error_rate: float
    box_jitter: float
    box_miss_rate: float
    box_extra_rate: float
    seconds_per_task: float

    def __post_init__(self) -> None:
        for name in ("word_error_rate", "label_error_rate", "box_miss_rate", "box_extra_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.box_jitter < 0:
            raise ValueError(f"box_jitter must be >= 0, got {self.box_jitter}")
        if self.seconds_per_task <= 0:
            raise ValueError(f"seconds_per_task must be > 0, got {self.seconds_per_task}")


@dataclass(frozen=True)
class _SkillBand:
    name: str
    count: int
    word_error_rate: tuple[float, float]
    label_error_rate: tuple[float, float]
    box_jitter: tuple[float, float]
    box_miss_rate: tuple[float, float]
    box_extra_rate: tuple[float, float]
    seconds_per_task: tuple[float, float]


# Two careful, two average and one poor trainee (the one whose work should end up in review).
# Careful workers take longer; the poor one rushes.
_DEFAULT_BANDS = (
    _SkillBand("careful", 2, (0.02, 0.04), (0.03, 0.06), (0.02, 0.04), (0.01, 0.03),
               (0.00, 0.02), (40.0, 55.0)),
    _SkillBand("average", 2, (0.08, 0.12), (0.10, 0.16), (0.05, 0.08), (0.04, 0.08),
               (0.02, 0.05), (25.0, 35.0)),
    _SkillBand("poor", 1, (0.35, 0.45), (0.30, 0.40), (0.12, 0.20), (0.15, 0.25),
               (0.10, 0.20), (10.0, 16.0)),
)  # fmt: skip


def default_crowd(seed: int, *, handle_prefix: str = "sim") -> list[WorkerProfile]:
    """Five trainees of differing skill, drawn from fixed bands; the same seed, the same crowd.

    Handles are ``{handle_prefix}-careful-1``, ``-careful-2``, ``-average-1``, ``-average-2``,
    ``-poor-1``, in that order (best first).
    """
    rng = random.Random(seed)
    crowd: list[WorkerProfile] = []
    for band in _DEFAULT_BANDS:
        for number in range(1, band.count + 1):
            crowd.append(
                WorkerProfile(
                    handle=f"{handle_prefix}-{band.name}-{number}",
                    tier=WorkerTier.TRAINEE.value,
                    word_error_rate=round(rng.uniform(*band.word_error_rate), 4),
                    label_error_rate=round(rng.uniform(*band.label_error_rate), 4),
                    box_jitter=round(rng.uniform(*band.box_jitter), 4),
                    box_miss_rate=round(rng.uniform(*band.box_miss_rate), 4),
                    box_extra_rate=round(rng.uniform(*band.box_extra_rate), 4),
                    seconds_per_task=round(rng.uniform(*band.seconds_per_task), 1),
                )
            )
    return crowd


# --- transcripts -------------------------------------------------------------------------------

# Sound-alike and look-alike words that listeners really mix up (both directions).
_CONFUSION_GROUPS = (
    ("their", "there", "they're"), ("to", "too", "two"), ("its", "it's"), ("then", "than"),
    ("your", "you're"), ("a", "the"), ("an", "and"), ("in", "on"), ("of", "off"),
    ("were", "where", "we're"), ("hear", "here"), ("know", "no"), ("write", "right"),
    ("by", "buy"), ("for", "four"), ("one", "won"), ("which", "witch"), ("whether", "weather"),
    ("peace", "piece"), ("through", "threw"), ("accept", "except"), ("affect", "effect"),
    ("lose", "loose"), ("quite", "quiet"), ("our", "are", "hour"), ("would", "wood"),
    ("see", "sea"), ("son", "sun"), ("new", "knew"), ("weak", "week"), ("made", "maid"),
    ("meet", "meat"), ("not", "knot"), ("would", "could"), ("this", "these"), ("that", "what"),
    ("he", "she"), ("him", "them"), ("his", "is"), ("had", "has", "have"), ("was", "is"),
    ("a", "uh"), ("as", "has"), ("but", "bought"), ("so", "sew"), ("some", "sum"),
    ("said", "sad"), ("can", "can't"), ("will", "well"), ("when", "then"), ("man", "men"),
    ("thought", "taught"), ("where", "wear"), ("all", "awe"), ("way", "weigh"),
    ("time", "thyme"), ("do", "due", "dew"), ("be", "bee"), ("or", "oar"), ("i", "eye"),
)  # fmt: skip


def _confusion_table() -> dict[str, tuple[str, ...]]:
    table: dict[str, set[str]] = {}
    for group in _CONFUSION_GROUPS:
        for word in group:
            table.setdefault(word, set()).update(w for w in group if w != word)
    return {word: tuple(sorted(others)) for word, others in table.items()}


_CONFUSIONS = _confusion_table()
# Short words that careless listeners drop.
_FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "of",
        "to",
        "in",
        "on",
        "at",
        "is",
        "it",
        "as",
        "but",
        "or",
        "for",
        "with",
        "he",
        "she",
        "was",
        "be",
        "by",
        "so",
        "i",
        "you",
        "we",
        "they",
        "his",
        "her",
        "had",
        "have",
        "has",
        "this",
        "from",
        "are",
        "were",
        "not",
        "do",
        "did",
        "that",
        "then",
    ]
)
# What gets inserted when it is not a stutter: fillers and function words heard in the noise.
_INSERTED_WORDS = ("the", "a", "and", "uh", "um", "of", "that", "so", "i", "it")
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard_neighbours() -> dict[str, str]:
    position = {ch: (r, c) for r, row in enumerate(_KEYBOARD_ROWS) for c, ch in enumerate(row)}
    neighbours: dict[str, str] = {}
    for ch, (row, col) in position.items():
        near = [
            other
            for other, (r, c) in position.items()
            if other != ch and abs(r - row) <= 1 and abs(c - col) <= 1
        ]
        neighbours[ch] = "".join(sorted(near))
    return neighbours


_NEIGHBOUR_KEYS = _keyboard_neighbours()
_EDGE_PUNCTUATION = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)
_DROPPABLE_PUNCTUATION = '.,;:!?"()'
# Kept-draft mistakes per draft error rises with the worker's own error rate: careful workers
# fix most of the machine's mistakes, poor ones mostly accept them.
_DRAFT_KEEP_PER_ERROR_RATE = 2.0
_DRAFT_KEEP_MAX = 0.85
# Some injected errors merge in the minimum-edit alignment (a dropped word next to an inserted
# one counts once, as a substitution), more often the denser they are: the fresh rate is raised
# by this times its square (fitted on LibriSpeech text: realised rate on target up to 0.6).
_COLLISION_BOOST = 0.12


@dataclass(frozen=True)
class _Token:
    surface: str  # as written
    word: str  # its one word under the engine's normalisation
    from_draft: bool = False  # a draft word kept as is: no fresh errors on it


def _tokens(text: str) -> list[_Token]:
    """Whitespace tokens, one per normalised word; tokens that normalise to several words
    ("air-tight") are split and ones that normalise to none (a dash) are left out: both
    differences are forgiven by normalisation."""
    tokens: list[_Token] = []
    for raw in text.split():
        words = normalize_words(raw)
        if len(words) == 1:
            tokens.append(_Token(raw, words[0]))
        else:
            tokens.extend(_Token(word, word) for word in words)
    return tokens


def draft_keep_probability(profile: WorkerProfile) -> float:
    """Chance that the worker leaves one wrong stretch of the machine draft as it is."""
    return min(_DRAFT_KEEP_MAX, _DRAFT_KEEP_PER_ERROR_RATE * profile.word_error_rate)


def noisy_transcript(
    reference: str, profile: WorkerProfile, rng: random.Random, draft: str | None = None
) -> str:
    """What ``profile``'s worker types for audio whose true transcript is ``reference``.

    With a ``draft`` (the machine's text the worker corrects), wrong stretches of the draft are
    kept with :func:`draft_keep_probability`, and fresh errors fill the rest of the profile's
    error budget; a draft worse than the worker can push the result above the profile's rate.
    """
    tokens = _tokens(reference)
    if not tokens:
        return ""
    reference_words = len(tokens)
    kept_errors = 0
    if draft and draft.strip():
        tokens, kept_errors = _keep_draft_mistakes(
            tokens, _tokens(draft), draft_keep_probability(profile), rng
        )
    free = sum(1 for t in tokens if not t.from_draft)
    budget = profile.word_error_rate * reference_words - kept_errors
    fresh_rate = min(1.0, max(0.0, budget) / free) if free else 0.0
    fresh_rate = min(1.0, fresh_rate * (1.0 + _COLLISION_BOOST * fresh_rate**2))
    noisy: list[_Token] = []
    for token in tokens:
        if token.from_draft or rng.random() >= fresh_rate:
            noisy.append(token)
            continue
        error = _error_kind(token.word, rng)
        if error == "delete":
            continue
        if error == "insert":
            noisy.append(_inserted_token(token, rng))
            noisy.append(token)
        else:
            noisy.append(_substituted_token(token, rng))
    return _written(noisy, rng)


def _keep_draft_mistakes(
    reference: list[_Token], draft: list[_Token], keep_probability: float, rng: random.Random
) -> tuple[list[_Token], int]:
    """The reference with some of the draft's wrong stretches put back; and how many word
    errors those stretches make."""
    matcher = SequenceMatcher(
        a=[t.word for t in reference], b=[t.word for t in draft], autojunk=False
    )
    merged: list[_Token] = []
    kept_errors = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal" and rng.random() < keep_probability:
            merged.extend(replace(t, from_draft=True) for t in draft[j1:j2])
            kept_errors += max(i2 - i1, j2 - j1)
        else:
            merged.extend(reference[i1:i2])
    return merged, kept_errors


def _error_kind(word: str, rng: random.Random) -> str:
    draw = rng.random()
    if word in _FUNCTION_WORDS:
        return "delete" if draw < 0.5 else "substitute" if draw < 0.85 else "insert"
    return "delete" if draw < 0.1 else "substitute" if draw < 0.85 else "insert"


def _inserted_token(before: _Token, rng: random.Random) -> _Token:
    word = before.word if rng.random() < 0.35 else rng.choice(_INSERTED_WORDS)  # a stutter
    return _Token(word, word)


def _substituted_token(token: _Token, rng: random.Random) -> _Token:
    match = _EDGE_PUNCTUATION.match(token.surface)
    assert match is not None  # the pattern matches any string
    prefix, core, suffix = match.groups()
    for _ in range(8):
        candidate = _substitute_word(token.word, rng)
        surface = prefix + _cased_like(core, candidate) + suffix
        if _is_other_single_word(surface, token.word):
            return _Token(surface, candidate)
        if _is_other_single_word(candidate, token.word):
            return _Token(candidate, candidate)
    fallback = "uh" if token.word != "uh" else "um"
    return _Token(fallback, fallback)


def _is_other_single_word(text: str, word: str) -> bool:
    words = normalize_words(text)
    return len(words) == 1 and words[0] != word


def _substitute_word(word: str, rng: random.Random) -> str:
    if word in _CONFUSIONS and rng.random() < 0.85:
        return rng.choice(_CONFUSIONS[word])
    if rng.random() < 0.3:
        return _other_word_form(word)
    return _typo(word, rng)


def _other_word_form(word: str) -> str:
    """A neighbouring form of the word: plural/singular, past tense, -ing dropped."""
    if word.endswith("ing") and len(word) > 5:
        return word[:-3]
    if word.endswith("ed") and len(word) > 4:
        return word[:-2]
    if word.endswith("s") and len(word) > 3:
        return word[:-1]
    return word + "s"


def _typo(word: str, rng: random.Random) -> str:
    """One slip of the keyboard: a neighbouring key, a dropped, swapped or doubled character."""
    chars = list(word)
    operation = rng.choice(("neighbour", "drop", "swap", "double"))
    if operation == "drop" and len(chars) >= 3:
        del chars[rng.randrange(len(chars))]
    elif operation == "swap" and (
        swappable := [i for i in range(len(chars) - 1) if chars[i] != chars[i + 1]]
    ):
        i = rng.choice(swappable)
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    elif operation == "double":
        i = rng.randrange(len(chars))
        chars.insert(i, chars[i])
    else:
        i = rng.randrange(len(chars))
        if chars[i].isdigit():
            chars[i] = rng.choice([d for d in string.digits if d != chars[i]])
        else:
            chars[i] = rng.choice(_NEIGHBOUR_KEYS.get(chars[i], "e"))
    return "".join(chars)


def _cased_like(model: str, word: str) -> str:
    if len(model) > 1 and model.isupper():
        return word.upper()
    if model[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _forgiven(old: str, new: str) -> str:
    """``new`` when normalisation cannot tell it from ``old``, else ``old``."""
    return new if normalize_words(new) == normalize_words(old) else old


def _written(tokens: list[_Token], rng: random.Random) -> str:
    """The tokens as this worker writes them: casing and punctuation habits, all forgiven."""
    lower_case_everything = rng.random() < 0.3
    punctuation_drop_rate = rng.choice((0.0, 0.3, 1.0))
    pieces: list[str] = []
    for index, token in enumerate(tokens):
        surface = token.surface
        if lower_case_everything:
            surface = _forgiven(surface, surface.lower())
        if punctuation_drop_rate and rng.random() < punctuation_drop_rate:
            surface = _forgiven(surface, surface.strip(_DROPPABLE_PUNCTUATION))
        elif index < len(tokens) - 1 and rng.random() < 0.03 and surface[-1:].isalnum():
            surface = _forgiven(surface, surface + ",")
        if rng.random() < 0.01:
            surface = _forgiven(surface, surface[:1].upper() + surface[1:])
        pieces.append(surface)
    if rng.random() < 0.5:
        pieces[0] = _forgiven(pieces[0], pieces[0][:1].upper() + pieces[0][1:])
    if rng.random() < 0.5 and pieces[-1][-1:] not in (".", "!", "?"):
        pieces[-1] = _forgiven(pieces[-1], pieces[-1] + ".")
    return " ".join(pieces)


# --- labels ------------------------------------------------------------------------------------

# Of the wrong labels, this share goes to the fixed confusable neighbour; the rest are uniform.
_CONFUSABLE_SHARE = 0.75


def confusable_label(truth: str, labels: Sequence[str]) -> str:
    """The label a worker mistakes ``truth`` for most often: the option just after it (the
    last option's is the one before it). ``truth`` itself when it is the only label."""
    options = list(labels)
    if truth not in options:
        raise ValueError(f"{truth!r} is not one of the labels {options!r}")
    if len(options) < 2:
        return truth
    index = options.index(truth)
    return options[index + 1] if index + 1 < len(options) else options[index - 1]


def noisy_label(
    truth: str, labels: Sequence[str], profile: WorkerProfile, rng: random.Random
) -> str:
    """The label ``profile``'s worker picks when ``truth`` is right."""
    neighbour = confusable_label(truth, labels)
    if neighbour == truth or rng.random() >= profile.label_error_rate:
        return truth
    others = [label for label in labels if label not in (truth, neighbour)]
    if not others or rng.random() < _CONFUSABLE_SHARE:
        return neighbour
    return rng.choice(others)


# --- boxes -------------------------------------------------------------------------------------

_MIN_BOX_PIXELS = 1.0


def noisy_boxes(
    truth_boxes: Sequence[Mapping[str, Any]],
    width: float,
    height: float,
    profile: WorkerProfile,
    rng: random.Random,
    *,
    labels: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The boxes ``profile``'s worker draws on a ``width`` x ``height`` image.

    Boxes are ``{"label", "x", "y", "w", "h"}`` in pixels of the task image, rounded to 0.01 px
    and inside the image. Each true box is missed with ``box_miss_rate``, else drawn with edges
    jittered by ``box_jitter`` of its size (and its label confused, when ``labels`` lists the
    job's labels); each is followed by an extra box with ``box_extra_rate`` (the same object
    drawn twice, offset, or something that is not there). An image with no true box still gets
    a stray box with ``box_extra_rate``.
    """
    if not (width > 0 and height > 0):
        raise ValueError(f"image size must be positive, got {width} x {height}")
    drawn: list[dict[str, Any]] = []
    for box in truth_boxes:
        label, x, y, w, h = _box_fields(box)
        if rng.random() >= profile.box_miss_rate:
            if labels and label in labels:
                label = noisy_label(label, labels, profile, rng)
            jitter_x, jitter_y = profile.box_jitter * w, profile.box_jitter * h
            drawn.append(
                _clamped_box(
                    label,
                    x + rng.gauss(0.0, jitter_x),
                    y + rng.gauss(0.0, jitter_y),
                    x + w + rng.gauss(0.0, jitter_x),
                    y + h + rng.gauss(0.0, jitter_y),
                    width,
                    height,
                )
            )
        if rng.random() < profile.box_extra_rate:
            drawn.append(_extra_box(label, x, y, w, h, width, height, labels, rng))
    if not truth_boxes and rng.random() < profile.box_extra_rate and labels:
        w, h = width * rng.uniform(0.1, 0.3), height * rng.uniform(0.1, 0.3)
        drawn.append(
            _extra_box(rng.choice(list(labels)), 0.0, 0.0, w, h, width, height, (), rng, True)
        )
    return drawn


def _box_fields(box: Mapping[str, Any]) -> tuple[str, float, float, float, float]:
    try:
        label = str(box["label"])
        x, y, w, h = (float(box[key]) for key in ("x", "y", "w", "h"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"a box needs label, x, y, w, h: {box!r}") from exc
    return label, x, y, w, h


def _extra_box(
    label: str,
    x: float,
    y: float,
    w: float,
    h: float,
    width: float,
    height: float,
    labels: Sequence[str],
    rng: random.Random,
    elsewhere: bool = False,
) -> dict[str, Any]:
    if elsewhere or rng.random() < 0.5:
        # Something that is not there, about the size of the real thing.
        left, top = rng.uniform(0.0, max(0.0, width - w)), rng.uniform(0.0, max(0.0, height - h))
        extra_label = rng.choice(list(labels)) if labels else label
        return _clamped_box(extra_label, left, top, left + w, top + h, width, height)
    # The same object drawn a second time, offset by part of its size.
    dx = w * rng.uniform(0.2, 0.5) * rng.choice((-1, 1))
    dy = h * rng.uniform(0.2, 0.5) * rng.choice((-1, 1))
    return _clamped_box(label, x + dx, y + dy, x + w + dx, y + h + dy, width, height)


def _clamped_box(
    label: str, x1: float, y1: float, x2: float, y2: float, width: float, height: float
) -> dict[str, Any]:
    """A box from two corners, at least a pixel wide and tall, inside the image, in whole
    hundredths of a pixel (what Label Studio round trips keep)."""
    left, right = _clamped_span(min(x1, x2), max(x1, x2), width)
    top, bottom = _clamped_span(min(y1, y2), max(y1, y2), height)
    return {
        "label": label,
        "x": left / 100,
        "y": top / 100,
        "w": (right - left) / 100,
        "h": (bottom - top) / 100,
    }


def _clamped_span(start: float, end: float, limit: float) -> tuple[int, int]:
    """``start``..``end`` inside ``0..limit``, as hundredths of a pixel."""
    limit_hundredths = int(limit * 100)
    minimum = min(int(_MIN_BOX_PIXELS * 100), limit_hundredths)
    low = min(max(round(start * 100), 0), limit_hundredths)
    high = min(max(round(end * 100), 0), limit_hundredths)
    if high - low < minimum:
        # A box dragged off the edge or collapsed still covers a pixel inside the image.
        high = min(low + minimum, limit_hundredths)
        low = high - minimum
    return low, high
