"""Low-confidence flags on draft words (pure).

A word is *low confidence* when the recogniser's probability for it is below the threshold;
the task UI highlights those words so a worker checks them first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from engine.domain.draft import DraftWord, SegmentDraft

DEFAULT_LOW_CONFIDENCE_THRESHOLD = 0.5


def is_low_confidence(probability: float, threshold: float) -> bool:
    """True when ``probability`` is under ``threshold`` (a NaN probability is low confidence)."""
    _check_threshold(threshold)
    return math.isnan(probability) or probability < threshold


def flag_low_confidence(words: Sequence[DraftWord], threshold: float) -> tuple[DraftWord, ...]:
    """``words`` with ``low_confidence`` set from ``threshold`` (any previous flag is replaced)."""
    _check_threshold(threshold)
    return tuple(
        replace(word, low_confidence=is_low_confidence(word.probability, threshold))
        for word in words
    )


def flag_draft(draft: SegmentDraft, threshold: float) -> SegmentDraft:
    """``draft`` with its words flagged under ``threshold``."""
    return draft.with_words(flag_low_confidence(draft.words, threshold))


def low_confidence_share(words: Sequence[DraftWord]) -> float:
    """Fraction of ``words`` flagged low confidence (0.0 for no words)."""
    if not words:
        return 0.0
    return sum(word.low_confidence for word in words) / len(words)


def _check_threshold(threshold: float) -> None:
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"low-confidence threshold must be in [0, 1], got {threshold}")
