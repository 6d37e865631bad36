"""What a worker may submit for each job kind, and its canonical form."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import pytest

from engine.domain.answer_rules import MAX_BOXES, MAX_TEXT_CHARS, AnswerError, normalize_answer
from engine.domain.job_stage import JobKind

LABELS = ["cat", "dog"]


def box(label: str = "cat", x: Any = 10, y: Any = 20, w: Any = 30, h: Any = 40) -> dict[str, Any]:
    return {"label": label, "x": x, "y": y, "w": w, "h": h}


@pytest.mark.parametrize("kind", list(JobKind))
@pytest.mark.parametrize("answer", [None, "cat", ["cat"], 3, True])
def test_an_answer_must_be_an_object(kind: JobKind, answer: Any) -> None:
    with pytest.raises(AnswerError, match="JSON object"):
        normalize_answer(kind, LABELS, answer)


# -- transcription ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("hello world", "hello world"),
        ("  hello   world \n", "hello world"),
        ("line one\nline two\tend", "line one line two end"),
        ("", ""),  # silence
        (" \t\n ", ""),
        ("Mambo, vipi?", "Mambo, vipi?"),  # case and punctuation are kept; scoring normalises
        ("ñandú\u00a0grande", "ñandú grande"),  # a no-break space is whitespace too
    ],
)
def test_transcription_text_has_its_whitespace_collapsed(text: str, canonical: str) -> None:
    assert normalize_answer(JobKind.TRANSCRIPTION, [], {"text": text}) == {"text": canonical}


def test_transcription_drops_extra_fields() -> None:
    answer = {"text": "a b", "confidence": 0.3, "label": "cat"}
    assert normalize_answer(JobKind.TRANSCRIPTION, LABELS, answer) == {"text": "a b"}


@pytest.mark.parametrize("answer", [{}, {"text": None}, {"text": 5}, {"text": ["a"]}, {"t": "a"}])
def test_transcription_needs_a_text_string(answer: dict[str, Any]) -> None:
    with pytest.raises(AnswerError, match="'text'"):
        normalize_answer(JobKind.TRANSCRIPTION, [], answer)


def test_transcription_text_length_limit_is_inclusive() -> None:
    assert MAX_TEXT_CHARS == 20_000
    at_limit = "a" * 20_000
    assert normalize_answer(JobKind.TRANSCRIPTION, [], {"text": at_limit}) == {"text": at_limit}
    with pytest.raises(AnswerError, match="longer than"):
        normalize_answer(JobKind.TRANSCRIPTION, [], {"text": at_limit + "a"})


# -- image classification -----------------------------------------------------------------------


@pytest.mark.parametrize("label", LABELS)
def test_classification_keeps_a_known_label_only(label: str) -> None:
    answer = {"label": label, "note": "sure"}
    assert normalize_answer(JobKind.IMAGE_CLASSIFICATION, LABELS, answer) == {"label": label}


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"label": None},
        {"label": "Cat"},
        {"label": "cat "},
        {"label": "bird"},
        {"label": ["cat"]},
    ],
)
def test_classification_rejects_anything_but_an_exact_label(answer: dict[str, Any]) -> None:
    with pytest.raises(AnswerError, match="must be one of"):
        normalize_answer(JobKind.IMAGE_CLASSIFICATION, LABELS, answer)


def test_classification_with_no_labels_accepts_nothing() -> None:
    with pytest.raises(AnswerError):
        normalize_answer(JobKind.IMAGE_CLASSIFICATION, [], {"label": "cat"})


# -- image boxes --------------------------------------------------------------------------------


def boxes(*items: Any, media_size: tuple[int, int] | None = None) -> list[dict[str, Any]]:
    result = normalize_answer(JobKind.IMAGE_BOXES, LABELS, {"boxes": list(items)}, media_size)
    assert list(result) == ["boxes"]
    out: list[dict[str, Any]] = result["boxes"]
    return out


def test_an_empty_box_list_means_nothing_to_box() -> None:
    assert boxes() == []
    assert boxes(media_size=(10, 10)) == []


def test_boxes_are_returned_as_floats_without_extra_fields() -> None:
    given = {**box("dog", 1, 2, 3, 4), "score": 0.9, "id": "b1"}
    out = boxes(given)
    assert out == [{"label": "dog", "x": 1.0, "y": 2.0, "w": 3.0, "h": 4.0}]
    assert all(type(out[0][k]) is float for k in "xywh")


def test_without_the_image_size_boxes_are_not_clamped() -> None:
    assert boxes(box(x=-5, y=-6, w=1000, h=2000)) == [box(x=-5.0, y=-6.0, w=1000.0, h=2000.0)]


@pytest.mark.parametrize(
    ("given", "clamped"),
    [
        # image 100 x 50
        (box(x=10, y=5, w=20, h=10), box(x=10.0, y=5.0, w=20.0, h=10.0)),  # inside: unchanged
        (box(x=-10, y=-5, w=30, h=20), box(x=0.0, y=0.0, w=20.0, h=15.0)),  # over top-left
        (box(x=90, y=40, w=20, h=20), box(x=90.0, y=40.0, w=10.0, h=10.0)),  # over bottom-right
        (box(x=-1, y=-1, w=200, h=100), box(x=0.0, y=0.0, w=100.0, h=50.0)),  # whole image
        (box(x=99.5, y=0, w=5, h=1), box(x=99.5, y=0.0, w=0.5, h=1.0)),
    ],
)
def test_boxes_are_clamped_to_the_image(given: dict[str, Any], clamped: dict[str, Any]) -> None:
    assert boxes(given, media_size=(100, 50)) == [clamped]


@pytest.mark.parametrize(
    "outside",
    [
        box(x=100, y=0, w=5, h=5),  # starts on the right edge
        box(x=-20, y=0, w=20, h=5),  # ends on the left edge
        box(x=0, y=50, w=5, h=5),  # starts on the bottom edge
        box(x=0, y=-7, w=5, h=7),  # ends on the top edge
        box(x=500, y=500, w=5, h=5),
    ],
)
def test_a_box_entirely_outside_the_image_is_refused(outside: dict[str, Any]) -> None:
    with pytest.raises(AnswerError, match="outside the 100x50 image"):
        boxes(box(), outside, media_size=(100, 50))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("not a box", "box 1 must be an object"),
        (["cat", 1, 2, 3, 4], "box 1 must be an object"),
        (box(label="bird"), "box 1: label"),
        ({"x": 1, "y": 1, "w": 1, "h": 1}, "box 1: label"),
        (box(w=0), "w and h must be positive"),
        (box(h=0), "w and h must be positive"),
        (box(w=-3), "w and h must be positive"),
        (box(h=-0.1), "w and h must be positive"),
        (box(x="10"), "box x must be a finite number"),
        (box(y=None), "box y must be a finite number"),
        (box(w=True), "box w must be a finite number"),  # bool is an int to Python, not to us
        (box(h=[1]), "box h must be a finite number"),
        (box(x=math.nan), "box x must be a finite number"),
        (box(y=math.inf), "box y must be a finite number"),
        (box(w=-math.inf), "box w must be a finite number"),
        ({"label": "cat", "x": 1, "y": 1, "w": 1}, "box h must be a finite number"),
    ],
)
def test_a_bad_box_is_refused_with_what_to_fix(bad: Any, message: str) -> None:
    with pytest.raises(AnswerError, match=message):
        boxes(box(), bad)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("x", 10**400, id="x=10**400"),
        pytest.param("y", -(10**400), id="y=-10**400"),
        pytest.param("w", 10**309, id="w=10**309"),
        pytest.param("h", 2**1024, id="h=2**1024"),  # the first power of two past the range
    ],
)
def test_a_coordinate_too_large_for_a_float_is_refused(field: str, value: int) -> None:
    # Valid JSON: the parser gives Python ints of any size.
    with pytest.raises(AnswerError, match=f"box {field} must be a finite number"):
        boxes({**box(), field: value})


def test_a_huge_integer_from_json_is_refused() -> None:
    huge = "1" + "0" * 400
    answer = json.loads(f'{{"boxes": [{{"label": "cat", "x": {huge}, "y": 0, "w": 1, "h": 1}}]}}')
    assert answer["boxes"][0]["x"] == 10**400
    with pytest.raises(AnswerError, match="box x must be a finite number"):
        normalize_answer(JobKind.IMAGE_BOXES, LABELS, answer)


def test_the_largest_integer_a_float_holds_is_still_a_number() -> None:
    largest = int(sys.float_info.max)
    assert boxes(box(w=largest))[0]["w"] == sys.float_info.max


@pytest.mark.parametrize("answer", [{}, {"boxes": None}, {"boxes": {"0": box()}}, {"boxes": "[]"}])
def test_boxes_must_be_a_list(answer: dict[str, Any]) -> None:
    with pytest.raises(AnswerError, match="'boxes'"):
        normalize_answer(JobKind.IMAGE_BOXES, LABELS, answer)


def test_box_count_limit_is_inclusive() -> None:
    assert MAX_BOXES == 500
    assert len(boxes(*[box(x=i) for i in range(500)])) == 500
    with pytest.raises(AnswerError, match="at most 500"):
        boxes(*[box(x=i) for i in range(501)])


def test_every_box_is_kept_in_order() -> None:
    given = [box("cat", x=1), box("dog", x=2), box("cat", x=3)]
    assert [(b["label"], b["x"]) for b in boxes(*given)] == [
        ("cat", 1.0),
        ("dog", 2.0),
        ("cat", 3.0),
    ]
