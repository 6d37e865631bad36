"""Stitching segment drafts at overlapping seams, with hand-made drafts (plus draft JSON and
low-confidence flags, the other pure pieces of the pre-draft path)."""

from __future__ import annotations

import json
import random

import pytest

from engine.domain.draft import DraftWord, SegmentDraft
from engine.domain.low_confidence import (
    flag_draft,
    flag_low_confidence,
    is_low_confidence,
    low_confidence_share,
)
from engine.domain.stitch_transcript import comparable_word, stitch_drafts

Word = tuple[str, float, float] | tuple[str, float, float, float]


def draft(
    offset: float,
    duration: float,
    words: list[Word],
    *,
    task_id: str = "",
    error: str | None = None,
) -> SegmentDraft:
    """A draft whose word times are given relative to the SOURCE recording (easier to read)."""
    draft_words = []
    for item in words:
        text, start, end = item[0], item[1], item[2]
        probability = item[3] if len(item) == 4 else 0.9
        draft_words.append(
            DraftWord(
                word=text,
                start=round(start - offset, 3),
                end=round(end - offset, 3),
                source_start=start,
                source_end=end,
                probability=probability,
            )
        )
    return SegmentDraft(
        task_id=task_id or f"seg-{offset}",
        text=" ".join(text for text, *_ in words),
        words=tuple(draft_words),
        avg_logprob=-0.2,
        model_version="test",
        language="en",
        duration=duration,
        offset_seconds=offset,
        error=error,
    )


def texts(drafts: list[SegmentDraft]) -> list[str]:
    return stitch_drafts(drafts).text.split()


def test_no_overlap_concatenates_in_source_order() -> None:
    a = draft(0.0, 3.0, [("Hello", 0.2, 0.6), ("there.", 0.7, 1.1)])
    b = draft(3.0, 3.0, [("General", 3.3, 3.8), ("Kenobi.", 3.9, 4.6)])
    result = stitch_drafts([b, a])
    assert result.text == "Hello there. General Kenobi."
    assert [w.source_start for w in result.words] == [0.2, 0.7, 3.3, 3.9]


def test_duplicated_word_at_the_seam_is_kept_once() -> None:
    # Overlap [5.0, 5.5]; both segments heard "sat" inside it, timestamps a little apart.
    a = draft(0.0, 5.5, [("the", 4.2, 4.4), ("cat", 4.5, 4.9), ("sat", 5.05, 5.4)])
    b = draft(
        5.0, 5.0, [("sat", 5.1, 5.45), ("on", 5.6, 5.7), ("the", 5.8, 5.9), ("mat.", 6.0, 6.4)]
    )
    assert texts([a, b]) == ["the", "cat", "sat", "on", "the", "mat."]


def test_duplicate_differing_only_in_punctuation_and_case_is_kept_once() -> None:
    a = draft(0.0, 5.5, [("dinner", 4.4, 4.9), ("Turnips,", 5.05, 5.45)])
    b = draft(5.0, 5.0, [("turnips", 5.02, 5.4), ("and", 5.6, 5.8), ("carrots", 5.9, 6.4)])
    assert [comparable_word(w) for w in texts([a, b])] == ["dinner", "turnips", "and", "carrots"]


@pytest.mark.parametrize(
    ("a_span", "b_span"),
    [
        # The earlier copy's midpoint is after the overlap's midpoint (5.25) and the later copy's
        # before it: a pure midpoint rule would drop BOTH copies.
        ((5.1, 5.5), (5.0, 5.4)),
        # The reverse: a pure midpoint rule would keep BOTH copies.
        ((5.0, 5.4), (5.1, 5.5)),
    ],
)
def test_word_straddling_the_cut_is_neither_lost_nor_doubled(
    a_span: tuple[float, float], b_span: tuple[float, float]
) -> None:
    a = draft(0.0, 5.5, [("fat", 4.5, 4.95), ("mutton", *a_span)])
    b = draft(5.0, 5.0, [("mutton", *b_span), ("pieces", 5.55, 6.0)])
    assert texts([a, b]) == ["fat", "mutton", "pieces"]


def test_word_cut_by_a_segment_edge_keeps_the_copy_heard_whole() -> None:
    # Segment A ends at 5.5 in the middle of "mutton" and guessed "much"; B heard it whole.
    a = draft(0.0, 5.5, [("fat", 4.6, 5.0), ("much", 5.2, 5.5, 0.3)])
    b = draft(5.0, 5.0, [("fat", 4.62, 5.0), ("mutton", 5.2, 5.7), ("pieces", 5.8, 6.2)])
    assert texts([a, b]) == ["fat", "mutton", "pieces"]


def test_word_only_one_segment_heard_is_kept_on_its_side_of_the_cut() -> None:
    # B drops the overlap's first word "and" (before the cut); A has nothing after its "cold".
    a = draft(0.0, 5.5, [("cold", 4.6, 4.95), ("and", 5.05, 5.15)])
    b = draft(5.0, 5.0, [("wet", 5.35, 5.6), ("today", 5.7, 6.1)])
    assert texts([a, b]) == ["cold", "and", "wet", "today"]


def test_genuine_repetition_across_the_seam_is_preserved() -> None:
    # "no no": A heard the first "no" only, B heard both; the second is after A's end.
    a = draft(0.0, 5.5, [("said", 4.5, 4.8), ("no", 5.0, 5.2)])
    b = draft(5.0, 5.0, [("no", 5.02, 5.2), ("no", 5.6, 5.8), ("thanks", 5.9, 6.3)])
    assert texts([a, b]) == ["said", "no", "no", "thanks"]


def test_same_word_at_different_times_is_not_merged() -> None:
    # A's "no" at 5.0 and B's "no" at 5.4 are two spoken words even though they align as text.
    a = draft(0.0, 5.5, [("no", 5.0, 5.12)])
    b = draft(5.0, 5.0, [("no", 5.38, 5.5), ("way", 5.6, 5.9)])
    assert texts([a, b]) == ["no", "no", "way"]


def test_long_overlap_with_several_duplicated_words() -> None:
    spoken = [
        ("one", 8.1),
        ("two", 8.5),
        ("three", 8.9),
        ("four", 9.3),
        ("five", 9.7),
        ("six", 10.1),
    ]
    a = draft(0.0, 10.0, [(w, t, t + 0.3) for w, t in spoken[:5]])  # overlap [8.0, 10.0]
    jitter = [0.06, -0.05, 0.04, -0.03, 0.05, 0.0]
    b = draft(8.0, 6.0, [(w, t + j, t + j + 0.3) for (w, t), j in zip(spoken, jitter, strict=True)])
    assert texts([a, b]) == ["one", "two", "three", "four", "five", "six"]


def test_dense_speech_through_a_hard_cut_has_no_doubled_or_lost_word() -> None:
    # Continuous speech through a 1 s overlap [9.5, 10.5]: no gap to cut in, and the earlier
    # copy's timestamps are 0.08 s early, the later copy's 0.08 s late, so the word at the cut
    # (10.0) has one copy on each side of it.
    spoken = [f"w{i}" for i in range(12)]
    mids = [8.6 + 0.2 * i for i in range(12)]  # one word every 0.2 s, each 0.2 s long
    heard = list(zip(spoken, mids, strict=True))
    a = draft(0.0, 10.5, [(w, t - 0.18, t + 0.02) for w, t in heard if t < 10.45])
    b = draft(9.5, 5.0, [(w, t - 0.02, t + 0.18) for w, t in heard if t > 9.55])
    assert texts([a, b]) == spoken


def test_three_segments_chain() -> None:
    a = draft(0.0, 4.5, [("a", 1.0, 1.2), ("b", 4.1, 4.4)])
    b = draft(4.0, 4.5, [("b", 4.12, 4.42), ("c", 6.0, 6.3), ("d", 8.1, 8.4)])
    c = draft(8.0, 3.0, [("d", 8.08, 8.38), ("e", 9.0, 9.3)])
    result = stitch_drafts([c, a, b])
    assert result.text == "a b c d e"
    starts = [w.source_start for w in result.words]
    assert starts == sorted(starts)


def test_empty_and_failed_segments() -> None:
    a = draft(0.0, 5.5, [])  # silence
    b = draft(5.0, 5.5, [("hello", 5.1, 5.4), ("world", 9.9, 10.4)])
    broken = draft(10.0, 5.5, [("garbage", 10.1, 10.4)], error="non-finite samples")
    c = draft(15.0, 3.0, [("again", 15.2, 15.6)])
    assert stitch_drafts([a, b, broken, c]).text == "hello world again"
    assert stitch_drafts([]).text == ""
    assert stitch_drafts([draft(0.0, 3.0, []), draft(2.5, 3.0, [])]).words == ()


def test_empty_earlier_segment_keeps_all_words_of_the_later_one_in_the_overlap() -> None:
    a = draft(0.0, 5.5, [])
    b = draft(5.0, 5.0, [("early", 5.05, 5.2), ("word", 5.3, 5.6)])
    assert texts([a, b]) == ["early", "word"]


def test_stitching_does_not_depend_on_input_order() -> None:
    segments = [
        draft(0.0, 5.5, [("x", 1.0, 1.3), ("y", 5.05, 5.3)]),
        draft(5.0, 5.5, [("y", 5.07, 5.32), ("z", 7.0, 7.4), ("w", 10.1, 10.4)]),
        draft(10.0, 2.0, [("w", 10.12, 10.42), ("v", 11.0, 11.3)]),
    ]
    expected = stitch_drafts(segments)
    shuffled = list(segments)
    random.Random(7).shuffle(shuffled)
    assert stitch_drafts(shuffled) == expected
    assert expected.text == "x y z w v"


def test_hyphenated_compound_split_by_whisper_is_rejoined() -> None:
    a = draft(0.0, 3.0, [("flower", 0.1, 0.5), ("-fattened", 0.5, 1.0), ("sauce.", 1.1, 1.5)])
    assert stitch_drafts([a]).text == "flower-fattened sauce."


def test_draft_json_round_trip() -> None:
    original = flag_draft(
        draft(12.5, 4.0, [("Hello,", 12.6, 13.0, 0.95), ("wurld", 13.1, 13.5, 0.2)]), 0.5
    )
    stored = json.loads(json.dumps(original.to_json()))
    assert SegmentDraft.from_json(stored) == original
    assert stored["words"][1]["low_confidence"] is True
    failed = SegmentDraft(
        task_id="t",
        text="",
        words=(),
        avg_logprob=None,
        model_version="m",
        language="en",
        duration=1.0,
        offset_seconds=0.0,
        error="boom",
    )
    assert SegmentDraft.from_json(json.loads(json.dumps(failed.to_json()))) == failed
    with pytest.raises(ValueError, match="schema_version"):
        SegmentDraft.from_json({**failed.to_json(), "schema_version": 99})


def test_low_confidence_flags_follow_the_threshold() -> None:
    words = draft(
        0.0, 2.0, [("a", 0.1, 0.2, 0.1), ("b", 0.3, 0.4, 0.5), ("c", 0.5, 0.6, 0.9)]
    ).words
    assert [w.low_confidence for w in flag_low_confidence(words, 0.5)] == [True, False, False]
    assert [w.low_confidence for w in flag_low_confidence(words, 0.95)] == [True, True, True]
    assert [w.low_confidence for w in flag_low_confidence(words, 0.0)] == [False, False, False]
    assert low_confidence_share(flag_low_confidence(words, 0.6)) == pytest.approx(2 / 3)
    assert low_confidence_share(()) == 0.0
    assert is_low_confidence(float("nan"), 0.5)
    with pytest.raises(ValueError):
        flag_low_confidence(words, 1.5)
