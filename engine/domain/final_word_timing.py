"""Give a final (human) transcript the word timings of the machine draft it corrected (pure).

Workers type text, not timestamps. Subtitles and the seam merge need times, so final words are
aligned to the draft's words on their comparable text: a matched word takes the draft word's
times, and words the draft did not have share the time between their matched neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher

from engine.domain.draft import DraftWord
from engine.domain.stitch_transcript import comparable_word


def time_final_text(
    final_text: str,
    draft_words: Sequence[DraftWord],
    segment_start: float,
    segment_end: float,
    agreements: Sequence[float] | None = None,
) -> tuple[DraftWord, ...]:
    """Final words with source times. ``probability`` holds the word's agreement when given
    (how many workers wrote it), else 1.0 for matched words and 0.5 for unmatched ones."""
    words = final_text.split()
    if not words:
        return ()
    final_keys = [comparable_word(w) for w in words]
    draft_keys = [comparable_word(w.word) for w in draft_words]
    matcher = SequenceMatcher(a=final_keys, b=draft_keys, autojunk=False)
    in_draft = set(draft_keys)
    times: list[tuple[float, float] | None] = [None] * len(words)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            d = draft_words[block.b + k]
            times[block.a + k] = (d.source_start, d.source_end)
    # Runs of unmatched words share the gap between their timed neighbours evenly.
    i = 0
    while i < len(words):
        if times[i] is not None:
            i += 1
            continue
        j = i
        while j < len(words) and times[j] is None:
            j += 1
        left = times[i - 1][1] if i > 0 and times[i - 1] else segment_start  # type: ignore[index]
        right = times[j][0] if j < len(words) and times[j] else segment_end  # type: ignore[index]
        right = max(right, left)
        step = (right - left) / (j - i)
        for k in range(i, j):
            times[k] = (left + step * (k - i), left + step * (k - i + 1))
        i = j
    out = []
    for k, (word, span) in enumerate(zip(words, times, strict=True)):
        assert span is not None
        start, end = span
        if agreements is not None and k < len(agreements):
            prob = float(agreements[k])
        else:
            prob = 1.0 if final_keys[k] in in_draft else 0.5
        out.append(
            DraftWord(
                word,
                start - segment_start,
                end - segment_start,
                start,
                end,
                prob,
                low_confidence=prob < 0.5,
            )  # fmt: skip
        )
    return tuple(out)
