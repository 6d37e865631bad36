"""Label Studio payloads: task data, draft predictions, annotations <-> answers (pure)."""

from __future__ import annotations

import math

import pytest

from engine.domain.draft import DraftWord
from engine.domain.labeling_payload import (
    NO_DRAFT_HTML,
    LabelingPayloadError,
    annotation_result_from_answer,
    answer_from_annotation,
    draft_html,
    draft_prediction,
    ls_task,
    task_data,
)


def word(text: str, low: bool = False, p: float = 0.9) -> dict[str, object]:
    return {"word": text, "start": 0.0, "end": 0.5, "probability": p, "low_confidence": low}


def box_region(x: float, y: float, w: float, h: float, label: str = "car", **extra: object):
    """A rectanglelabels item as Label Studio stores it (percentages)."""
    return {
        "id": "r1",
        "type": "rectanglelabels",
        "from_name": "boxes",
        "to_name": "image",
        "original_width": 200,
        "original_height": 100,
        "value": {
            "x": x,
            "y": y,
            "width": w,
            "height": h,
            "rotation": 0,
            "rectanglelabels": [label],
        },
        **extra,
    }


# --- task data ---------------------------------------------------------------------------------


def test_transcription_task_data_marks_and_escapes_low_confidence_words() -> None:
    words = [word("Fish"), word("<&>", low=True, p=0.2), word("chips", low=True), word("-ish")]
    data = task_data("transcription", "http://m/a.wav", None, words, "task-1")
    assert data == {
        "audio": "http://m/a.wav",
        "draft_html": "Fish <mark>&lt;&amp;&gt;</mark> <mark>chips</mark>-ish",
        "draft_text": "Fish <&> chips-ish",
        "kazi_task_id": "task-1",
    }


def test_draft_html_accepts_draft_words_and_quotes() -> None:
    words = [
        DraftWord("say", 0, 1, 0, 1, 0.9),
        DraftWord('"hi"', 1, 2, 1, 2, 0.1, low_confidence=True),
    ]
    assert draft_html(None, words) == "say <mark>&quot;hi&quot;</mark>"


def test_draft_html_falls_back_to_text_then_to_a_notice() -> None:
    assert draft_html("a < b", None) == "a &lt; b"
    assert draft_html("a < b", []) == "a &lt; b"
    assert draft_html("  ", None) == NO_DRAFT_HTML
    assert draft_html(None, [word("  ")]) == NO_DRAFT_HTML


def test_draft_text_wins_over_joined_words() -> None:
    data = task_data("transcription", "u", " Hello world. ", [word("hello")], "t")
    assert data["draft_text"] == "Hello world."
    assert data["draft_html"] == "hello"


def test_image_task_data_and_extra_keys() -> None:
    data = task_data("image_boxes", "http://m/t.png", None, None, "t9", extra={"replica": 1})
    assert data == {"image": "http://m/t.png", "kazi_task_id": "t9", "replica": 1}
    with pytest.raises(LabelingPayloadError, match="overwrite"):
        task_data("image_boxes", "u", None, None, "t9", extra={"image": "x"})


@pytest.mark.parametrize(
    ("kind", "url", "task_id", "message"),
    [
        ("video", "u", "t", "unknown task kind"),
        ("transcription", "", "t", "media_url"),
        ("transcription", "u", "", "kazi_task_id"),
    ],
)
def test_task_data_refuses_bad_input(kind: str, url: str, task_id: str, message: str) -> None:
    with pytest.raises(LabelingPayloadError, match=message):
        task_data(kind, url, None, None, task_id)


def test_task_data_refuses_a_word_without_text() -> None:
    with pytest.raises(LabelingPayloadError, match="'word'"):
        task_data("transcription", "u", None, [{"start": 0}], "t")


# --- predictions --------------------------------------------------------------------------------


def test_draft_prediction_prefills_the_transcription_box() -> None:
    assert draft_prediction(" hello world ", "whisper-small", 0.75) == {
        "model_version": "whisper-small",
        "score": 0.75,
        "result": [
            {
                "from_name": "transcription",
                "to_name": "audio",
                "type": "textarea",
                "value": {"text": ["hello world"]},
            }
        ],
    }
    assert "score" not in draft_prediction("x", "m", None)


def test_draft_prediction_refuses_blank_text_and_bad_score() -> None:
    with pytest.raises(LabelingPayloadError, match="non-blank"):
        draft_prediction("   ", "m", 0.5)
    with pytest.raises(LabelingPayloadError, match="finite"):
        draft_prediction("x", "m", math.nan)


def test_ls_task_wraps_data_and_predictions() -> None:
    assert ls_task({"image": "u"}) == {"data": {"image": "u"}}
    pred = draft_prediction("x", "m")
    assert ls_task({"audio": "u"}, [pred]) == {"data": {"audio": "u"}, "predictions": [pred]}


# --- annotations -> answers ----------------------------------------------------------------------


def test_transcription_answer_joins_textarea_lines() -> None:
    result = [
        {"type": "textarea", "from_name": "transcription", "value": {"text": [" one", "two "]}},
        {"type": "textarea", "from_name": "transcription", "value": {"text": ["", "three"]}},
    ]
    assert answer_from_annotation("transcription", result) == {"text": "one two three"}


def test_transcription_answer_may_be_empty_text_but_not_an_empty_result() -> None:
    blank = [{"type": "textarea", "value": {"text": ["  "]}}]
    assert answer_from_annotation("transcription", blank) == {"text": ""}
    with pytest.raises(LabelingPayloadError, match="empty annotation result"):
        answer_from_annotation("transcription", [])
    with pytest.raises(LabelingPayloadError, match="no textarea"):
        answer_from_annotation("transcription", [{"type": "choices", "value": {"choices": ["a"]}}])


def test_classification_answer_needs_exactly_one_choice() -> None:
    one = [{"type": "choices", "from_name": "label", "value": {"choices": ["cat"]}}]
    assert answer_from_annotation("image_classification", one) == {"label": "cat"}
    two = [{"type": "choices", "value": {"choices": ["cat", "dog"]}}]
    for result in (two, [], [{"type": "textarea", "value": {"text": ["x"]}}]):
        with pytest.raises(LabelingPayloadError):
            answer_from_annotation("image_classification", result)


def test_boxes_answer_in_task_image_pixels_hand_checked() -> None:
    # 200 x 100 image: x 10% -> 20 px, y 20% -> 20 px, w 25% -> 50 px, h 50% -> 50 px.
    result = [box_region(10, 20, 25, 50), box_region(0, 0, 33.333333, 10, label="person")]
    assert answer_from_annotation("image_boxes", result, (200, 100)) == {
        "boxes": [
            {"label": "car", "x": 20.0, "y": 20.0, "w": 50.0, "h": 50.0},
            {"label": "person", "x": 0.0, "y": 0.0, "w": 66.67, "h": 10.0},
        ]
    }


def test_boxes_use_the_recorded_size_when_none_is_given() -> None:
    answer = answer_from_annotation("image_boxes", [box_region(50, 50, 10, 10)], None)
    assert answer["boxes"] == [{"label": "car", "x": 100.0, "y": 50.0, "w": 20.0, "h": 10.0}]


def test_boxes_are_clamped_inside_the_image() -> None:
    result = [box_region(-5, 90, 20, 30)]  # starts left of the image, runs off the bottom
    assert answer_from_annotation("image_boxes", result, (200, 100))["boxes"] == [
        {"label": "car", "x": 0.0, "y": 90.0, "w": 30.0, "h": 10.0}
    ]


def test_rotated_box_becomes_its_axis_aligned_extent() -> None:
    region = box_region(50, 0, 10, 10)  # 20 x 10 px at (100, 0)
    region["value"]["rotation"] = 90  # clockwise about the top-left: now spans x 90..100, y 0..20
    assert answer_from_annotation("image_boxes", [region], (200, 100))["boxes"] == [
        {"label": "car", "x": 90.0, "y": 0.0, "w": 10.0, "h": 20.0}
    ]


def test_empty_boxes_result_means_nothing_to_box() -> None:
    assert answer_from_annotation("image_boxes", [], (10, 10)) == {"boxes": []}
    # Other controls in the result are ignored.
    assert answer_from_annotation("image_boxes", [{"type": "textarea"}], (10, 10)) == {"boxes": []}


@pytest.mark.parametrize(
    ("result", "size", "message"),
    [
        ([box_region(0, 0, 1, 1, original_width=None)], None, "image size"),
        ([box_region(0, 0, 1, 1)], (0, 10), "positive"),
        ([{"type": "rectanglelabels", "value": {"x": 0}}], (10, 10), "exactly one label"),
        (
            [{"type": "rectanglelabels", "value": {"rectanglelabels": ["a"], "x": "1"}}],
            (10, 10),
            "finite number",
        ),
        ([{"type": "rectanglelabels"}], (10, 10), "'value'"),
        (["not a dict"], (10, 10), "objects"),
        ("a string", (10, 10), "must be a list"),
    ],
)
def test_bad_box_results_are_refused(result: object, size: object, message: str) -> None:
    with pytest.raises(LabelingPayloadError, match=message):
        answer_from_annotation("image_boxes", result, size)  # type: ignore[arg-type]


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(LabelingPayloadError, match="unknown task kind"):
        answer_from_annotation("audio_events", [{"type": "textarea"}])


# --- answers -> annotations, round trips ----------------------------------------------------------


def test_box_result_from_answer_in_percentages() -> None:
    answer = {"boxes": [{"label": "car", "x": 20, "y": 20, "w": 50, "h": 50}]}
    [region] = annotation_result_from_answer("image_boxes", answer, (200, 100))
    assert region["type"] == "rectanglelabels"
    assert (region["from_name"], region["to_name"]) == ("boxes", "image")
    assert (region["original_width"], region["original_height"]) == (200, 100)
    assert region["value"] == {
        "x": 10.0,
        "y": 20.0,
        "width": 25.0,
        "height": 50.0,
        "rotation": 0,
        "rectanglelabels": ["car"],
    }


@pytest.mark.parametrize(
    ("kind", "answer", "size"),
    [
        ("transcription", {"text": "the quick brown fox"}, None),
        ("transcription", {"text": ""}, None),
        ("image_classification", {"label": 'a "dog" & <cat>'}, None),
        ("image_boxes", {"boxes": []}, (640, 480)),
        (
            "image_boxes",
            {
                "boxes": [
                    {"label": "car", "x": 0.0, "y": 0.0, "w": 640.0, "h": 480.0},
                    {"label": "person", "x": 12.34, "y": 401.5, "w": 7.01, "h": 78.5},
                    {"label": "car", "x": 333.33, "y": 1.0, "w": 0.0, "h": 3.0},
                ]
            },
            (640, 480),
        ),
        (
            "image_boxes",
            {"boxes": [{"label": "x", "x": 1.0, "y": 2.0, "w": 3.0, "h": 4.0}]},
            (7, 9),
        ),
    ],
)
def test_round_trip(kind: str, answer: dict, size: tuple[int, int] | None) -> None:
    result = annotation_result_from_answer(kind, answer, size)
    assert answer_from_annotation(kind, result, size) == answer


@pytest.mark.parametrize(
    ("kind", "answer", "size", "message"),
    [
        ("transcription", {"text": 3}, None, "'text'"),
        ("image_classification", {"label": ""}, None, "'label'"),
        ("image_boxes", {"boxes": []}, None, "image size"),
        ("image_boxes", {"boxes": "none"}, (10, 10), "a list"),
        ("image_boxes", {"boxes": [{"x": 1, "y": 1, "w": 1, "h": 1}]}, (10, 10), "label"),
        (
            "image_boxes",
            {"boxes": [{"label": "a", "x": 1, "y": 1, "w": -1, "h": 1}]},
            (9, 9),
            "negative",
        ),
        (
            "image_boxes",
            {"boxes": [{"label": "a", "x": True, "y": 1, "w": 1, "h": 1}]},
            (9, 9),
            "finite",
        ),
    ],
)
def test_bad_answers_are_refused(kind: str, answer: dict, size: object, message: str) -> None:
    with pytest.raises(LabelingPayloadError, match=message):
        annotation_result_from_answer(kind, answer, size)  # type: ignore[arg-type]
