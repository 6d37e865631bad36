"""What a task page may carry, and how what it sends becomes an answer (pure, no servers)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from engine.domain.labeling_payload import (
    LabelingPayloadError,
    annotation_result_from_answer,
    answer_from_annotation,
)
from engine.work.service import Lease, LeasedTask
from engine.worker_app.task_views import (
    AppSubmitRequest,
    Editor,
    Refusal,
    TaskPageView,
    answer_from_page,
    choose_editor,
    full_editor_setup,
    media_key_for,
    refusal_of,
    same_origin_path,
    task_page_view,
)

LEASE = Lease("lease-1", 7, "task-1", "job-1", datetime(2026, 1, 1, tzinfo=UTC), 0)


def leased(kind: str = "transcription", **changes) -> LeasedTask:  # type: ignore[no-untyped-def]
    task = LeasedTask(
        lease=LEASE, kind=kind, media_key="a/seg.flac", lowres_media_key="a/seg.opus",
        labels=[], start=3.0, end=9.5, width=None, height=None,
        draft={"text": "hello wrld", "model_version": "m", "words": [
            {"word": "hello", "probability": 0.9, "low_confidence": False},
            {"word": "wrld", "probability": 0.2, "low_confidence": True},
            {"word": " ", "probability": 0.9},
        ]},
    )  # fmt: skip
    return dataclasses.replace(task, **changes)


@pytest.mark.parametrize(
    ("kind", "asked", "remembered", "editor"),
    [
        ("transcription", None, None, Editor.LIGHT),
        ("transcription", "full", None, Editor.FULL),
        ("transcription", None, "full", Editor.FULL),
        ("transcription", "light", "full", Editor.LIGHT),
        ("transcription", None, "bogus", Editor.LIGHT),
        ("image_boxes", "light", None, Editor.FULL),
        ("image_classification", None, "light", Editor.FULL),
    ],
)
def test_images_get_the_full_editor_and_transcription_what_the_worker_chose(  # type: ignore[no-untyped-def]
    kind, asked, remembered, editor
):
    assert choose_editor(kind, asked, remembered) is editor


def test_a_page_carries_only_the_lease_the_media_and_the_workers_own_draft():  # type: ignore[no-untyped-def]
    view = task_page_view(leased(), Editor.LIGHT, "/v1/media/a/seg.opus?sig=1")
    # Blind by construction: no field could hold a gold answer, a gold flag or others' answers.
    names = {f.name for f in dataclasses.fields(TaskPageView)}
    assert names == {
        "lease_id", "task_id", "kind", "editor", "labels", "draft_text", "draft_words",
        "media_url", "start", "end", "width", "height", "expires_at", "client_answer_id",
    }  # fmt: skip
    assert view.client_answer_id == "app-lease-1" and view.duration == 6.5
    assert [(w.text, w.low_confidence) for w in view.draft_words] == [
        ("hello", False), ("wrld", True),
    ]  # fmt: skip
    assert view.draft_text == "hello wrld" and view.low_confidence_count == 1


def test_words_without_a_stored_flag_are_flagged_from_their_probability():  # type: ignore[no-untyped-def]
    draft = {"text": "", "model_version": "m", "words": [
        {"word": "sure", "probability": 0.9}, {"word": "unsure", "probability": 0.1},
        {"word": "unknown"},
    ]}  # fmt: skip
    view = task_page_view(leased(draft=draft), Editor.LIGHT, "u")
    assert [w.low_confidence for w in view.draft_words] == [False, True, True]
    assert view.draft_text == "sure unsure unknown"  # no text: the words make it


def test_the_light_editor_plays_the_small_opus_copy_and_the_full_one_the_task_media():  # type: ignore[no-untyped-def]
    assert media_key_for(leased(), Editor.LIGHT) == "a/seg.opus"
    assert media_key_for(leased(), Editor.FULL) == "a/seg.flac"
    assert media_key_for(leased(lowres_media_key=None), Editor.LIGHT) == "a/seg.flac"


@pytest.mark.parametrize(
    ("url", "public", "expected"),
    [
        ("http://e.org:8000/v1/media/k?s=1", "http://e.org:8000", "/v1/media/k?s=1"),
        ("http://e.org:8000/v1/media/k", "http://e.org:8000/", "/v1/media/k"),
        ("https://s3.example/b/k?X=1", "http://e.org:8000", "https://s3.example/b/k?X=1"),
        ("https://e.org:8000/v1/media/k", "http://e.org:8000", "https://e.org:8000/v1/media/k"),
    ],
)
def test_links_on_the_engines_own_address_become_paths(url, public, expected):  # type: ignore[no-untyped-def]
    assert same_origin_path(url, public) == expected


def test_the_full_editor_gets_todays_labeling_config_and_a_published_style_task():  # type: ignore[no-untyped-def]
    boxes = task_page_view(
        leased("image_boxes", labels=["car", "tree"], width=640, height=360, draft=None),
        Editor.FULL, "/v1/media/img.png",
    )  # fmt: skip
    setup = full_editor_setup(boxes)
    assert '<Label value="car"/>' in setup["config"] and "RectangleLabels" in setup["config"]
    assert setup["task"]["data"] == {"image": "/v1/media/img.png", "kazi_task_id": "task-1"}
    assert setup["task"]["predictions"] == []
    speech = full_editor_setup(task_page_view(leased(), Editor.FULL, "/v1/media/seg.flac"))
    assert "<mark>wrld</mark>" in speech["task"]["data"]["draft_html"]
    (draft,) = speech["draft_result"]
    assert draft["value"] == {"text": ["hello wrld"]} and draft["from_name"] == "transcription"
    assert boxes_setup_has_no_draft(setup)


def boxes_setup_has_no_draft(setup: dict) -> bool:  # type: ignore[type-arg]
    return setup["draft_result"] == []


def test_a_box_result_becomes_task_pixels_exactly_as_the_webhook_makes_them():  # type: ignore[no-untyped-def]
    answer = {"boxes": [{"label": "car", "x": 10.0, "y": 20.0, "w": 300.5, "h": 41.25}]}
    result = annotation_result_from_answer("image_boxes", answer, (640, 360))
    body = AppSubmitRequest(client_answer_id="app-1", result=result)
    assert answer_from_page("image_boxes", body, (640, 360)) == answer_from_annotation(
        "image_boxes", result, (640, 360)
    )
    assert answer_from_page("image_boxes", body, (640, 360)) == answer
    # The task's size wins over what the editor recorded (as the webhook path does).
    doubled = answer_from_page("image_boxes", body, (1280, 720))
    assert doubled["boxes"][0]["x"] == 20.0
    with pytest.raises(LabelingPayloadError):
        answer_from_page("transcription", AppSubmitRequest(client_answer_id="c", result=[]), None)


@pytest.mark.parametrize(
    "body",
    [
        {"client_answer_id": "c"},
        {"client_answer_id": "c", "answer": {"text": "x"}, "result": []},
        {"client_answer_id": "", "answer": {"text": "x"}},
        {"client_answer_id": "c", "answer": {"text": "x"}, "is_gold": False},
        {"client_answer_id": "c", "answer": {"text": "x"}, "time_spent_seconds": 1e9},
        {"client_answer_id": "c", "result": [{}] * 501},
    ],
)
def test_a_submit_body_is_refused_unless_it_carries_exactly_one_answer(body):  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError):
        AppSubmitRequest.model_validate(body)


@pytest.mark.parametrize(
    ("outcome", "ran_out", "refusal"),
    [
        ("released", False, Refusal.SKIPPED),
        ("submitted", False, Refusal.ALREADY_SENT),
        ("expired", True, Refusal.RAN_OUT_FULL),
        (None, True, Refusal.RAN_OUT_FULL),
        (None, False, Refusal.OTHER),
    ],
)
def test_a_refused_submit_is_explained_from_its_lease(outcome, ran_out, refusal):  # type: ignore[no-untyped-def]
    assert refusal_of(outcome, ran_out) is refusal
