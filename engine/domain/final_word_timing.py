"""Give a final (human) transcript the word timings of the machine draft it corrected (pure).

Workers type text, not timestamps. Subtitles and the seam merge need times, so final words are
aligned to the draft's words on their comparable text: a matched word takes the draft word's
times, and words the draft did not have share the time between their matched neighbours.

Each word's ``probability`` becomes its confidence (:func:`word_confidence`): the workers'
agreement on it, with the recogniser's probability counted as one more answer's worth.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher

from engine.domain.draft import DraftWord
from engine.domain.stitch_transcript import comparable_word


def word_confidence(
    agreement: float | None, draft_probability: float | None, answers: int
) -> float:
    """Confidence in [0, 1] of a final word.

    ``agreement`` is the share of voter weight behind the word in the consensus, ``answers``
    how many worker answers voted, ``draft_probability`` the recogniser's probability of the
    draft word the final word matched (None when the draft did not have it). The draft counts
    as one more answer::

        confidence = (answers * agreement + draft_probability) / (answers + 1)

    and is the agreement alone when the draft did not have the word. A word with no
    agreement (``None``: a QA reviewer wrote the final text) has confidence 1.0.
    """
    if agreement is None:
        return 1.0
    agreement = min(max(agreement, 0.0), 1.0)
    if draft_probability is None:
        return agreement
    draft_probability = min(max(draft_probability, 0.0), 1.0)
    answers = max(answers, 1)
    return (answers * agreement + draft_probability) / (answers + 1)


def time_final_text(
    final_text: str,
    draft_words: Sequence[DraftWord],
    segment_start: float,
    segment_end: float,
    agreements: Sequence[float] | None = None,
    answers: int = 1,
) -> tuple[DraftWord, ...]:
    """Final words with source times; ``probability`` is each word's :func:`word_confidence`
    from ``agreements`` (one per word of ``final_text`` split on whitespace; None for a
    reviewer's text) and the probability of the draft word it matched."""
    words = final_text.split()
    if not words:
        return ()
    final_keys = [comparable_word(w) for w in words]
    draft_keys = [comparable_word(w.word) for w in draft_words]
    matcher = SequenceMatcher(a=final_keys, b=draft_keys, autojunk=False)
    times: list[tuple[float, float] | None] = [None] * len(words)
    draft_probability: list[float | None] = [None] * len(words)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            d = draft_words[block.b + k]
            times[block.a + k] = (d.source_start, d.source_end)
            draft_probability[block.a + k] = d.probability
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
        agreement: float | None = None
        if agreements is not None:
            # Words past the agreements given (never from merge_texts) count as half-agreed.
            agreement = float(agreements[k]) if k < len(agreements) else 0.5
        prob = word_confidence(agreement, draft_probability[k], answers)
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
