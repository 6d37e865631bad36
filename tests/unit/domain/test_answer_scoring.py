"""Scores of one answer against a reference, per job kind; IoUs are worked out in comments."""

from __future__ import annotations

from typing import Any

import pytest

from engine.domain.answer_scoring import BOX_MATCH_IOU, AnswerScore, box_match_score, score_answer
from engine.domain.box_consensus import Box
from engine.domain.job_stage import JobKind

T, C, B = JobKind.TRANSCRIPTION, JobKind.IMAGE_CLASSIFICATION, JobKind.IMAGE_BOXES


def text(value: str) -> dict[str, Any]:
    return {"text": value}


def drawn(*items: tuple[str, float, float, float, float]) -> dict[str, Any]:
    return {"boxes": [{"label": lb, "x": x, "y": y, "w": w, "h": h} for lb, x, y, w, h in items]}


# -- transcription ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "answer", "score", "wer", "cer"),
    [
        ("the cat sat down", "the cat sat down", 1.0, 0.0, 0.0),
        ("Hello, World.", "hello world", 1.0, 0.0, 0.0),  # case and punctuation do not count
        # one word of four substituted; one character of 16 ("the cat sat down") substituted
        ("the cat sat down", "the bat sat down", 0.75, 0.25, 1 / 16),
        # one word of four deleted; four characters of 16 ("sat " gone)
        ("the cat sat down", "the cat down", 0.75, 0.25, 4 / 16),
        ("the cat sat down", "", 0.0, 1.0, 1.0),
        # two insertions against one word: WER 2, the score stops at 0; 8 inserted chars of 3
        ("yes", "yes yes yes", 0.0, 2.0, 8 / 3),
    ],
)
def test_transcription_score_is_one_minus_wer(
    reference: str, answer: str, score: float, wer: float, cer: float
) -> None:
    result = score_answer(T, text(answer), text(reference))
    assert result.score == pytest.approx(score)
    assert result.wer == pytest.approx(wer)
    assert result.cer == pytest.approx(cer)
    assert result.correct is None


@pytest.mark.parametrize(
    ("reference", "answer", "expected"),
    [
        ("", "", AnswerScore(1.0, 0.0, 0.0)),  # both heard silence
        ("  \n", "", AnswerScore(1.0, 0.0, 0.0)),
        ("", "   ", AnswerScore(1.0, 0.0, 0.0)),
        ("", "uh", AnswerScore(0.0, 1.0, 1.0)),  # silence, but something was typed
        ("\t", "hello there", AnswerScore(0.0, 1.0, 1.0)),
    ],
)
def test_a_silent_reference_is_all_or_nothing(
    reference: str, answer: str, expected: AnswerScore
) -> None:
    assert score_answer(T, text(answer), text(reference)) == expected


def test_a_missing_transcription_text_counts_as_empty() -> None:
    assert score_answer(T, {}, text("")).score == 1.0
    assert score_answer(T, {}, text("one two")).score == 0.0
    assert score_answer(T, text("one two"), {}).score == 0.0


def test_more_word_errors_never_score_higher() -> None:
    reference = "one two three four five six"
    answers = ["one two three four five six", "one two three four five", "one two three",
               "one", "", "x y z w v u t s"]  # fmt: skip
    scores = [score_answer(T, text(a), text(reference)).score for a in answers]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == 1.0 and scores[-1] == 0.0


# -- image classification -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "reference", "correct"),
    [("cat", "cat", True), ("cat", "dog", False), ("Cat", "cat", False), ("dog", "cat", False)],
)
def test_classification_is_right_or_wrong(answer: str, reference: str, correct: bool) -> None:
    result = score_answer(C, {"label": answer}, {"label": reference})
    assert result == AnswerScore(1.0 if correct else 0.0, correct=correct)


# -- image boxes --------------------------------------------------------------------------------


def test_the_match_threshold_is_half_overlap() -> None:
    assert BOX_MATCH_IOU == 0.5


@pytest.mark.parametrize(
    ("answer", "reference", "score"),
    [
        (drawn(), drawn(), 1.0),  # both say "nothing to box"
        (drawn(("cat", 0, 0, 10, 10)), drawn(("cat", 0, 0, 10, 10)), 1.0),
        # intersection 1, union 2 + 1 - 1 = 2: IoU exactly 0.5 still matches
        (drawn(("cat", 0, 0, 1, 1)), drawn(("cat", 0, 0, 2, 1)), 0.5),
        # intersection 0.99, union 2: IoU 0.495, under the threshold: no match
        (drawn(("cat", 0, 0, 0.99, 1)), drawn(("cat", 0, 0, 2, 1)), 0.0),
        # shifted by a quarter: intersection 7.5 x 10 = 75, union 125: IoU 0.6
        (drawn(("cat", 2.5, 0, 10, 10)), drawn(("cat", 0, 0, 10, 10)), 0.6),
        (drawn(("dog", 0, 0, 10, 10)), drawn(("cat", 0, 0, 10, 10)), 0.0),  # wrong label
        (drawn(("cat", 50, 50, 10, 10)), drawn(("cat", 0, 0, 10, 10)), 0.0),  # no overlap
        (drawn(), drawn(("cat", 0, 0, 10, 10)), 0.0),  # missed everything
        (drawn(("cat", 0, 0, 10, 10)), drawn(), 0.0),  # boxed an empty image
        # one perfect match, one extra box: 1 / max(2, 1)
        (drawn(("cat", 0, 0, 10, 10), ("cat", 40, 40, 5, 5)), drawn(("cat", 0, 0, 10, 10)), 0.5),
        # one perfect match, one box missed: 1 / max(1, 2)
        (drawn(("cat", 0, 0, 10, 10)), drawn(("cat", 0, 0, 10, 10), ("dog", 40, 40, 5, 5)), 0.5),
        # two boxes, IoU 1 and 0.6: (1 + 0.6) / 2
        (
            drawn(("cat", 0, 0, 10, 10), ("dog", 102.5, 100, 10, 10)),
            drawn(("dog", 100, 100, 10, 10), ("cat", 0, 0, 10, 10)),
            0.8,
        ),
        # two copies of the one right box: matching is one-to-one, the copy is an extra
        (drawn(("cat", 0, 0, 10, 10), ("cat", 0, 0, 10, 10)), drawn(("cat", 0, 0, 10, 10)), 0.5),
    ],
)
def test_box_answers_score_matched_overlap_over_the_larger_count(
    answer: dict[str, Any], reference: dict[str, Any], score: float
) -> None:
    result = score_answer(B, answer, reference)
    assert result.score == pytest.approx(score)
    assert (result.wer, result.cer, result.correct) == (None, None, None)
    assert score_answer(B, reference, answer).score == pytest.approx(score)  # symmetric


def test_a_missing_boxes_field_counts_as_no_boxes() -> None:
    assert score_answer(B, {}, drawn()).score == 1.0
    assert score_answer(B, {}, drawn(("cat", 0, 0, 1, 1))).score == 0.0


def test_the_best_overlap_is_matched_first() -> None:
    reference = [Box(0, 0, 10, 10, "cat")]
    # The exact box (IoU 1) takes the reference; the shifted one (IoU 0.6) is left as an extra.
    answer = [Box(2.5, 0, 12.5, 10, "cat"), Box(0, 0, 10, 10, "cat")]
    assert box_match_score(answer, reference) == pytest.approx(1.0 / 2)


def test_labels_keep_matches_apart() -> None:
    # Same place, swapped labels: nothing matches.
    answer = [Box(0, 0, 10, 10, "cat"), Box(20, 0, 30, 10, "dog")]
    reference = [Box(0, 0, 10, 10, "dog"), Box(20, 0, 30, 10, "cat")]
    assert box_match_score(answer, reference) == 0.0
    assert box_match_score(answer, list(reversed(answer))) == 1.0


def test_a_worse_box_never_scores_higher() -> None:
    reference = [Box(0, 0, 10, 10, "cat")]
    shifts = [0.0, 1.0, 2.0, 3.0, 3.3, 4.0, 8.0]
    scores = [box_match_score([Box(s, 0, 10 + s, 10, "cat")], reference) for s in shifts]
    assert scores == sorted(scores, reverse=True)
    # Shift s leaves (10 - s) * 10 of 100: IoU (10 - s) / (10 + s); under 0.5 once s > 10 / 3.
    assert scores[3] == pytest.approx(7 / 13)
    assert scores[4] > 0.5 and scores[5] == 0.0
