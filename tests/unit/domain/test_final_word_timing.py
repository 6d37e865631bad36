import pytest

from engine.domain.draft import DraftWord
from engine.domain.final_word_timing import time_final_text, word_confidence


def _w(word: str, start: float, end: float) -> DraftWord:
    return DraftWord(word, start - 10, end - 10, start, end, 0.9)


DRAFT = [
    _w("the", 10.0, 10.2),
    _w("cat", 10.3, 10.6),
    _w("sad", 10.7, 11.0),
    _w("down", 11.1, 11.4),
]


def test_matched_words_take_draft_times_and_new_words_share_gaps():
    words = time_final_text("The cat sat down.", DRAFT, 10.0, 12.0)
    assert [w.word for w in words] == ["The", "cat", "sat", "down."]
    assert (words[0].source_start, words[1].source_end) == (10.0, 10.6)
    # "sat" was "sad" in the draft: it fills the gap between "cat" and "down".
    assert words[2].source_start == 10.6 and words[2].source_end == 11.1
    assert words[3].source_start == 11.1 and abs(words[3].start - 1.1) < 1e-9
    pairs = zip(words, words[1:], strict=False)
    assert all(a.source_end <= b.source_start + 1e-9 for a, b in pairs)


def test_words_beyond_the_draft_spread_to_the_segment_edges():
    words = time_final_text("well the cat", DRAFT[:2], 9.5, 11.0)
    assert words[0].source_start == 9.5 and words[0].source_end == 10.0
    tail = time_final_text("the cat and more", DRAFT[:2], 9.5, 11.0)
    assert tail[-1].source_end == 11.0 and tail[2].source_start == 10.6


def test_confidence_combines_agreement_with_the_draft_probability():
    words = time_final_text(
        "The cat, jumped", DRAFT, 10.0, 12.0, agreements=[1.0, 0.4, 0.2], answers=3
    )
    # Matched words: (3 * agreement + 0.9) / 4; "jumped" is not in the draft: agreement alone.
    assert [w.probability for w in words] == pytest.approx([0.975, 0.525, 0.2])
    assert [w.low_confidence for w in words] == [False, False, True]
    assert all(0.0 <= w.probability <= 1.0 for w in words)


def test_word_confidence_bounds_and_a_reviewers_text():
    assert word_confidence(None, 0.3, 3) == 1.0  # a QA reviewer's word
    assert word_confidence(0.5, None, 3) == 0.5
    assert word_confidence(1.0, 1.0, 5) == 1.0 and word_confidence(0.0, 0.0, 5) == 0.0
    assert word_confidence(0.6, 0.2, 1) == pytest.approx(0.4)
    assert word_confidence(1.4, -0.1, 2) == pytest.approx(2 / 3)  # inputs clamped to [0, 1]


def test_empty_text_has_no_words_and_no_draft_spreads_the_words():
    assert time_final_text("  ", DRAFT, 10.0, 12.0) == ()
    # No draft at all (a silent segment): the words spread over the segment.
    spread = time_final_text("a b", [], 0.0, 2.0)
    assert [(w.source_start, w.source_end) for w in spread] == [(0.0, 1.0), (1.0, 2.0)]
