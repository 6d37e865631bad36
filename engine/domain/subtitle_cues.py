"""Subtitle cues from timed words of a source recording (pure).

Words are taken in the order given (reading order), with times in seconds of the source
recording. Times are rounded to milliseconds (what SRT and WebVTT can say), clamped to
``[0, duration]``, and a start earlier than the previous word's is raised to it, so that identical
or slightly disordered timestamps never reorder the text. A word starting with ``-`` is a compound
fragment (``flower`` + ``-fattened``, see :func:`engine.domain.draft.join_words`) and is glued to
the word before: cues and lines never split inside a word.

Splitting:

1. Every sentence end (``.``, ``?``, ``!``, ``…``, not after a common abbreviation or an initial)
   ends a cue.
2. A sentence that does not fit in one cue (at most ``max_lines`` lines of ``max_chars_per_line``
   characters, at most ``max_duration`` seconds from its first word's start to its last word's end)
   is cut into the fewest, most even cues, preferring cuts after a comma (or ``;``, ``:``, a
   dash: the punctuation the transcript's writers chose), then at a pause of at least
   ``pause_split`` seconds, then anywhere between words. A single word too long or too slow for
   a cue gets a cue of its own anyway.

Each cue's text is broken into the fewest lines that fit, as even in length as possible (a text
that fits on one line stays on one line).

Timing: a cue runs from its first word's start to its last word's end, cut at the next cue's start
so cues never overlap. A cue shorter than ``min_duration`` is extended into the gap after it, up
to the next cue or the end of the audio. Cues whose words all share one start time (degenerate
timestamps) split the time available to them evenly; a cue that would still last no time at all
borrows the gap before it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from engine.domain.draft import DraftWord

DEFAULT_MAX_CHARS_PER_LINE = 42
DEFAULT_MAX_LINES = 2
DEFAULT_MAX_DURATION = 7.0
DEFAULT_MIN_DURATION = 1.0
DEFAULT_PAUSE_SPLIT = 0.6

# Split costs, in the order of preference the module docstring gives. A cue itself costs more than
# any single cut's advantage, so a sentence that fits is never cut.
_CUE_COST = 3.0
_CLAUSE_CUT_COST = 1.0
_PAUSE_CUT_COST = 2.0
_OTHER_CUT_COST = 6.0
# Weight of (unused share of a cue's characters)^2: spreads a long sentence evenly over its
# cues. Small enough (two cues' terms differ by < 1) never to outweigh a better kind of cut.
_FILL_WEIGHT = 0.4

_CLOSING_MARKS = "\"'”’»)]}"
_SENTENCE_END_MARKS = (".", "?", "!", "…", "。", "？", "！")
_CLAUSE_END_MARKS = (",", ";", ":", "—", "–", "、", "，")
_ABBREVIATIONS = frozenset(
    {"mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "jr.", "sr.", "vs.", "e.g.", "i.e.", "mt."}
)
_INITIAL = re.compile(r"[A-Z]\.")


class SpokenWord(Protocol):
    """What :func:`build_cues` reads from a word: its text and source times in seconds."""

    @property
    def text(self) -> str: ...

    @property
    def start(self) -> float: ...

    @property
    def end(self) -> float: ...


@dataclass(frozen=True, slots=True)
class TimedWord:
    """A word of the final transcript with its times in the source recording (seconds)."""

    text: str
    start: float
    end: float

    @classmethod
    def from_draft(cls, word: DraftWord) -> TimedWord:
        # A draft word's start/end are segment-relative; subtitles need source times.
        return cls(word.word, word.source_start, word.source_end)


@dataclass(frozen=True, slots=True)
class Cue:
    """One subtitle: ``index`` from 1, times in seconds, ``text`` with ``\\n`` between lines."""

    index: int
    start: float
    end: float
    text: str

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            raise ValueError(f"cue times must be finite: {self}")
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"cue must satisfy 0 <= start <= end: {self}")
        if not self.text.strip():
            raise ValueError(f"cue {self.index} has no text")


@dataclass(frozen=True, slots=True)
class _Unit:
    """A word as cues use it: never split, times cleaned."""

    text: str
    start: float
    end: float


def ends_sentence(word: str) -> bool:
    """Whether ``word`` ends a sentence (closing quotes and brackets after the mark allowed)."""
    core = word.rstrip(_CLOSING_MARKS)
    if not core.endswith(_SENTENCE_END_MARKS):
        return False
    return core.lower() not in _ABBREVIATIONS and not _INITIAL.fullmatch(core)


def ends_clause(word: str) -> bool:
    """Whether ``word`` ends with a comma-like mark: a place to cut inside a sentence."""
    return word.rstrip(_CLOSING_MARKS).endswith(_CLAUSE_END_MARKS)


def build_cues(
    words: Sequence[SpokenWord],
    *,
    duration: float | None = None,
    max_chars_per_line: int = DEFAULT_MAX_CHARS_PER_LINE,
    max_lines: int = DEFAULT_MAX_LINES,
    max_duration: float = DEFAULT_MAX_DURATION,
    min_duration: float = DEFAULT_MIN_DURATION,
    pause_split: float = DEFAULT_PAUSE_SPLIT,
) -> list[Cue]:
    """Cues for ``words`` (see the module docstring); ``duration`` is the audio's length in
    seconds, by default the last word's end. Cues are ordered, never overlap and lie inside
    ``[0, duration]``."""
    _check_settings(max_chars_per_line, max_lines, max_duration, min_duration, pause_split)
    if duration is not None and not (math.isfinite(duration) and duration >= 0):
        raise ValueError(f"duration must be finite and >= 0, got {duration}")
    audio_end = None if duration is None else _ms_at_most(duration)
    units = _units(words, audio_end)
    if not units:
        return []
    if audio_end is None:
        audio_end = max(unit.end for unit in units)

    spans: list[tuple[int, int]] = []
    for first, stop in _sentences(units):
        spans.extend(
            _split_sentence(
                units, first, stop, max_chars_per_line, max_lines, max_duration, pause_split
            )
        )
    raw_times = [(units[i].start, max(u.end for u in units[i:j])) for i, j in spans]
    times = _place(raw_times, audio_end, min_duration)
    return [
        Cue(
            index=number,
            start=start,
            end=end,
            text="\n".join(
                _balanced_lines([u.text for u in units[i:j]], max_chars_per_line, max_lines)
            ),
        )
        for number, ((i, j), (start, end)) in enumerate(zip(spans, times, strict=True), start=1)
    ]


def _check_settings(
    max_chars_per_line: int,
    max_lines: int,
    max_duration: float,
    min_duration: float,
    pause_split: float,
) -> None:
    if max_chars_per_line < 1 or max_lines < 1:
        raise ValueError("max_chars_per_line and max_lines must be >= 1")
    if not (math.isfinite(max_duration) and max_duration > 0):
        raise ValueError(f"max_duration must be > 0, got {max_duration}")
    if not (0 <= min_duration <= max_duration):
        raise ValueError(f"min_duration must be in [0, max_duration], got {min_duration}")
    if not (math.isfinite(pause_split) and pause_split >= 0):
        raise ValueError(f"pause_split must be >= 0, got {pause_split}")


def _ms(seconds: float) -> float:
    return round(seconds * 1000) / 1000


def _ms_at_most(seconds: float) -> float:
    """``seconds`` rounded down to a millisecond, so that cues end inside the audio."""
    rounded = math.floor(seconds * 1000) / 1000
    return rounded if rounded <= seconds else (math.floor(seconds * 1000) - 1) / 1000


def _units(words: Sequence[SpokenWord], audio_end: float | None) -> list[_Unit]:
    units: list[_Unit] = []
    latest_start = 0.0
    for word in words:
        text = " ".join(word.text.split())
        if not text:
            continue
        if not (math.isfinite(word.start) and math.isfinite(word.end)):
            raise ValueError(f"word {text!r} has a non-finite time")
        start, end = _ms(max(word.start, 0.0)), _ms(max(word.end, word.start, 0.0))
        if audio_end is not None:
            start, end = min(start, audio_end), min(end, audio_end)
        start = max(start, latest_start)  # text order wins over disordered timestamps
        end = max(end, start)
        latest_start = start
        if units and text.startswith("-"):
            previous = units[-1]
            units[-1] = _Unit(previous.text + text, previous.start, max(previous.end, end))
        else:
            units.append(_Unit(text, start, end))
    return units


def _sentences(units: Sequence[_Unit]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    first = 0
    for i, unit in enumerate(units):
        if ends_sentence(unit.text):
            spans.append((first, i + 1))
            first = i + 1
    if first < len(units):
        spans.append((first, len(units)))
    return spans


def _split_sentence(
    units: Sequence[_Unit],
    first: int,
    stop: int,
    max_chars: int,
    max_lines: int,
    max_duration: float,
    pause_split: float,
) -> list[tuple[int, int]]:
    """Cheapest cut of ``units[first:stop]`` into cues that fit (dynamic programming)."""
    capacity = max_chars * max_lines
    best = {first: 0.0}
    came_from: dict[int, int] = {}
    for i in range(first, stop):
        if i not in best:
            continue
        lines, line_len, chars, latest_end = 1, 0, -1, units[i].end
        overlong = False
        for j in range(i + 1, stop + 1):
            unit = units[j - 1]
            size = len(unit.text)
            chars += 1 + size
            latest_end = max(latest_end, unit.end)
            if line_len == 0:
                line_len = size
            elif line_len + 1 + size <= max_chars:
                line_len += 1 + size
            else:
                lines, line_len = lines + 1, size
            overlong = overlong or line_len > max_chars
            fits = lines <= max_lines and not overlong
            fits = fits and latest_end - units[i].start <= max_duration
            if not fits and j > i + 1:
                break  # adding words only makes a cue longer
            cost = best[i] + _CUE_COST + _FILL_WEIGHT * max(0.0, 1 - chars / capacity) ** 2
            if j < stop:
                cost += _cut_cost(units[j - 1], units[j], pause_split)
            if cost < best.get(j, math.inf):
                best[j], came_from[j] = cost, i
    spans: list[tuple[int, int]] = []
    end = stop
    while end > first:
        spans.append((came_from[end], end))
        end = came_from[end]
    return spans[::-1]


def _cut_cost(before: _Unit, after: _Unit, pause_split: float) -> float:
    if ends_clause(before.text):
        return _CLAUSE_CUT_COST
    return _PAUSE_CUT_COST if after.start - before.end >= pause_split else _OTHER_CUT_COST


def _balanced_lines(texts: Sequence[str], max_chars: int, max_lines: int) -> list[str]:
    """The fewest lines that fit, with line lengths as even as possible."""
    line_count = _greedy_line_count(texts, max_chars)
    if line_count == 1 or line_count > max_lines or any(len(t) > max_chars for t in texts):
        return [" ".join(texts)]  # fits on one line, or a lone over-long word
    n = len(texts)
    prefix = [0]
    for text in texts:
        prefix.append(prefix[-1] + len(text))

    def width(i: int, j: int) -> int:
        return prefix[j] - prefix[i] + (j - i - 1)

    # best[k][j]: (sum of squared line lengths, top line length) for texts[:j] in k lines.
    inf = (math.inf, math.inf)
    best = [[inf] * (n + 1) for _ in range(line_count + 1)]
    came_from = [[0] * (n + 1) for _ in range(line_count + 1)]
    best[0][0] = (0.0, 0.0)
    for k in range(1, line_count + 1):
        for j in range(1, n + 1):
            for i in range(j - 1, -1, -1):
                line = width(i, j)
                if line > max_chars:
                    break
                if best[k - 1][i] == inf:
                    continue
                squares, top = best[k - 1][i]
                # Ties go to a shorter top line: the bottom-heavy shape readers prefer.
                candidate = (squares + line**2, top + (line if k == 1 else 0))
                if candidate < best[k][j]:
                    best[k][j], came_from[k][j] = candidate, i
    lines: list[str] = []
    j = n
    for k in range(line_count, 0, -1):
        i = came_from[k][j]
        lines.append(" ".join(texts[i:j]))
        j = i
    return lines[::-1]


def _greedy_line_count(texts: Sequence[str], max_chars: int) -> int:
    lines, line_len = 1, 0
    for text in texts:
        if line_len == 0:
            line_len = len(text)
        elif line_len + 1 + len(text) <= max_chars:
            line_len += 1 + len(text)
        else:
            lines, line_len = lines + 1, len(text)
    return lines


def _place(
    raw_times: Sequence[tuple[float, float]], audio_end: float, min_duration: float
) -> list[tuple[float, float]]:
    """Final cue times: no overlaps, inside ``[0, audio_end]``, short cues extended."""
    placed: list[tuple[float, float]] = []
    previous_end = 0.0
    k = 0
    while k < len(raw_times):
        start = raw_times[k][0]
        group_end = k
        while group_end < len(raw_times) and raw_times[group_end][0] == start:
            group_end += 1
        count = group_end - k
        next_start = raw_times[group_end][0] if group_end < len(raw_times) else audio_end
        natural_end = min(max(end for _, end in raw_times[k:group_end]), next_start)
        end = _ms(max(natural_end, min(start + count * min_duration, next_start)))
        if end <= start:
            start = _ms(max(previous_end, end - count * min_duration))
        share = (end - start) / count
        for n in range(count):
            cue_start = _ms(start + n * share)
            cue_end = end if n == count - 1 else _ms(start + (n + 1) * share)
            placed.append((cue_start, cue_end))
        previous_end = end
        k = group_end
    return placed
