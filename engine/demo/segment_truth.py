"""What is said in each segment of a recording whose whole reference is known (pure).

The reference words get times by aligning them to the machine draft's timed words; each word
then belongs to the segment whose share of the recording holds its middle (an overlap between
two segments is split at its midpoint, so no word is given to both).
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.domain.draft import DraftWord
from engine.domain.final_word_timing import time_final_text


def segment_references(
    reference: str,
    segments: Sequence[tuple[str, float, float]],
    draft_words: Sequence[DraftWord],
) -> dict[str, str]:
    """``segments`` are ``(task_id, start, end)`` in source seconds; returns task -> text."""
    ordered = sorted(segments, key=lambda s: s[1])
    if not ordered:
        return {}
    if len(ordered) == 1:
        return {ordered[0][0]: reference}
    words = time_final_text(
        reference, sorted(draft_words, key=lambda w: w.source_start), ordered[0][1], ordered[-1][2]
    )
    bounds = []
    for (task_id, _start, end), nxt in zip(ordered, [*ordered[1:], None], strict=True):
        upper = float("inf") if nxt is None else (nxt[1] + min(end, nxt[2])) / 2
        bounds.append((task_id, upper))
    out: dict[str, list[str]] = {task_id: [] for task_id, _ in bounds}
    for word in words:
        mid = (word.source_start + word.source_end) / 2
        for task_id, upper in bounds:
            if mid < upper:
                out[task_id].append(word.word)
                break
    return {task_id: " ".join(ws) for task_id, ws in out.items()}
