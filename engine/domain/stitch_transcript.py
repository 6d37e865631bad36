"""Join segment drafts into one transcript of the source recording (pure).

Consecutive segments overlap (by ``overlap_seconds``, ~0.5 s, sometimes more) so that a word at a
cut is heard whole in at least one of them. Both segments therefore transcribe the overlap, and a
naive join doubles words there, or loses one when the two copies disagree about the timing.

Each seam is merged on source-relative word timestamps:

1. The *seam zone* is the overlap widened by ``seam_slack`` (Whisper's timestamps drift by a
   tenth of a second or two, most at segment edges): the tail of what is stitched so far that
   ends after the overlap starts, and the head of the next segment that starts before it ends.
   Words outside the zone are kept as they are.
2. The two zone word sequences are aligned on their comparable text (lower case, no
   punctuation). Two aligned words that are the same text at about the same time (their spans
   intersect, or their midpoints are within ``timing_tolerance``) are one spoken word heard
   twice: exactly one copy is kept. So is a pair of *different* texts spanning the same time (a
   word cut in two by a segment edge and guessed differently). The copy kept is the one farther
   from its own segment's edge, where the recogniser had context on both sides.
3. Words only one side has are kept by a cut time: the earlier segment's before it, the later
   segment's from it. The cut is the middle of the widest gap between words inside the overlap
   (so it does not fall inside a word), or the overlap's midpoint when there is no gap.

Segments without overlap are concatenated. Drafts with an ``error`` contribute nothing, and
a draft must carry word timestamps: its ``text`` alone is not stitched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from engine.domain.draft import DraftWord, SegmentDraft, join_words

DEFAULT_TIMING_TOLERANCE = 0.25
DEFAULT_SEAM_SLACK = 0.3
# Gaps between words narrower than this are not trusted as a place to cut.
_MIN_CUT_GAP = 0.04

_NOT_COMPARABLE = re.compile(r"[^\w']+")


@dataclass(frozen=True, slots=True)
class StitchedTranscript:
    """The recording's transcript: words in source order with source-relative times."""

    text: str
    words: tuple[DraftWord, ...]


@dataclass(frozen=True, slots=True)
class _Placed:
    """A word and the source extent of the segment that heard it."""

    word: DraftWord
    segment_start: float
    segment_end: float

    @property
    def start(self) -> float:
        return self.word.source_start

    @property
    def end(self) -> float:
        return max(self.word.source_end, self.word.source_start)

    @property
    def mid(self) -> float:
        return (self.start + self.end) / 2

    @property
    def edge_distance(self) -> float:
        return min(self.mid - self.segment_start, self.segment_end - self.mid)


def stitch_drafts(
    drafts: Sequence[SegmentDraft],
    *,
    timing_tolerance: float = DEFAULT_TIMING_TOLERANCE,
    seam_slack: float = DEFAULT_SEAM_SLACK,
) -> StitchedTranscript:
    """Stitch ``drafts`` (any order; sorted by source offset) into one transcript."""
    usable = sorted(
        (draft for draft in drafts if draft.ok),
        key=lambda draft: (draft.offset_seconds, draft.source_end),
    )
    stitched: list[_Placed] = []
    covered_until: float | None = None
    for draft in usable:
        placed = sorted(
            (_Placed(word, draft.offset_seconds, draft.source_end) for word in draft.words),
            key=lambda item: item.start,
        )
        if covered_until is not None and draft.offset_seconds < covered_until and stitched:
            overlap = (draft.offset_seconds, min(covered_until, draft.source_end))
            stitched = _merge_seam(stitched, placed, overlap, timing_tolerance, seam_slack)
        else:
            stitched.extend(placed)
        covered_until = (
            draft.source_end if covered_until is None else max(covered_until, draft.source_end)
        )
    words = tuple(item.word for item in stitched)
    return StitchedTranscript(text=join_words(word.word for word in words), words=words)


def comparable_word(word: str) -> str:
    """A word as the seam merge compares it: lower case, punctuation removed."""
    text = _NOT_COMPARABLE.sub("", word.lower())
    return text or word.strip()


def _merge_seam(
    earlier: list[_Placed],
    later: list[_Placed],
    overlap: tuple[float, float],
    tolerance: float,
    seam_slack: float,
) -> list[_Placed]:
    lo, hi = overlap
    tail_from = len(earlier)
    while tail_from > 0 and earlier[tail_from - 1].end > lo - seam_slack:
        tail_from -= 1
    head_to = 0
    while head_to < len(later) and later[head_to].start < hi + seam_slack:
        head_to += 1
    tail, head = earlier[tail_from:], later[:head_to]
    if not tail or not head:
        return earlier + later

    cut = _cut_time(tail + head, lo, hi)
    kept: list[_Placed] = []
    matcher = SequenceMatcher(
        None,
        [comparable_word(item.word.word) for item in tail],
        [comparable_word(item.word.word) for item in head],
        autojunk=False,
    )
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        a, b = tail[i1:i2], head[j1:j2]
        if op == "equal":
            pairs = [(x, y) for x, y in zip(a, b, strict=True) if _same_time(x, y, tolerance)]
        elif op == "replace":
            pairs = _pair_by_time(a, b)
        else:
            pairs = []
        paired_a = {id(x) for x, _ in pairs}
        paired_b = {id(y) for _, y in pairs}
        kept.extend(_better_copy(x, y) for x, y in pairs)
        kept.extend(x for x in a if id(x) not in paired_a and x.mid < cut)
        kept.extend(y for y in b if id(y) not in paired_b and y.mid >= cut)
    kept.sort(key=lambda item: (item.start, item.end))
    return earlier[:tail_from] + kept + later[head_to:]


def _cut_time(zone: list[_Placed], lo: float, hi: float) -> float:
    """Middle of the widest word-free gap inside ``[lo, hi]``, else the overlap's midpoint."""
    spans = sorted((item.start, item.end) for item in zone)
    best_gap, best_cut = 0.0, (lo + hi) / 2
    cursor = lo
    for start, end in [*spans, (hi, hi)]:
        gap_start, gap_end = max(cursor, lo), min(start, hi)
        if gap_end - gap_start > best_gap:
            best_gap, best_cut = gap_end - gap_start, (gap_start + gap_end) / 2
        cursor = max(cursor, end)
    return best_cut if best_gap >= _MIN_CUT_GAP else (lo + hi) / 2


def _same_time(x: _Placed, y: _Placed, tolerance: float) -> bool:
    intersection = min(x.end, y.end) - max(x.start, y.start)
    return intersection > 0 or abs(x.mid - y.mid) <= tolerance


def _pair_by_time(a: Sequence[_Placed], b: Sequence[_Placed]) -> list[tuple[_Placed, _Placed]]:
    """In order, pair words of different text that cover mostly the same time."""
    pairs: list[tuple[_Placed, _Placed]] = []
    j = 0
    for x in a:
        while j < len(b):
            y = b[j]
            shorter = max(min(x.end - x.start, y.end - y.start), 1e-6)
            intersection = min(x.end, y.end) - max(x.start, y.start)
            if intersection >= 0.5 * shorter:
                pairs.append((x, y))
                j += 1
                break
            if y.start >= x.end:
                break
            j += 1
    return pairs


def _better_copy(x: _Placed, y: _Placed) -> _Placed:
    if abs(x.edge_distance - y.edge_distance) > 1e-9:
        return x if x.edge_distance > y.edge_distance else y
    return x if x.word.probability >= y.word.probability else y
