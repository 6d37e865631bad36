"""Labeling configs rendered from configs/labeling/*.xml (no server; the gateway tests create
real projects with them)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from engine.domain import labeling_payload as payload
from engine.labeling.label_configs import LabelConfigError, render_label_config


def parse(kind: str, labels: list[str]) -> ET.Element:
    xml = render_label_config(kind, labels)
    assert "kazi:labels" not in xml
    return ET.fromstring(xml)


def test_transcription_shows_audio_marked_draft_and_a_prefillable_textarea() -> None:
    root = parse("transcription", [])
    audio = root.find("Audio")
    draft = root.find("HyperText")
    area = root.find("TextArea")
    assert audio is not None and draft is not None and area is not None
    assert (audio.get("name"), audio.get("value")) == (payload.AUDIO_TO, "$audio")
    assert draft.get("value") == f"${payload.DRAFT_HTML_KEY}"
    assert draft.get("inline") == "true"  # in the page, not an iframe
    assert (area.get("name"), area.get("toName")) == (
        payload.TRANSCRIPTION_FROM,
        payload.AUDIO_TO,
    )


def test_classification_has_one_choice_per_label_in_order() -> None:
    labels = ["cat", "dog", 'say "hi" & <bye>']
    root = parse("image_classification", labels)
    choices = root.find("Choices")
    assert choices is not None
    assert (choices.get("name"), choices.get("toName")) == (payload.CHOICE_FROM, payload.IMAGE_TO)
    assert [c.get("value") for c in choices.findall("Choice")] == labels


def test_boxes_have_one_label_per_job_label_and_no_rotation() -> None:
    root = parse("image_boxes", ["car", "person"])
    rect = root.find("RectangleLabels")
    assert rect is not None
    assert (rect.get("name"), rect.get("toName")) == (payload.BOXES_FROM, payload.IMAGE_TO)
    assert rect.get("canRotate") == "false"
    assert [label.get("value") for label in rect.findall("Label")] == ["car", "person"]


def test_labels_are_stripped() -> None:
    root = parse("image_classification", ["  cat "])
    assert [c.get("value") for c in root.iter("Choice")] == ["cat"]


@pytest.mark.parametrize(
    ("kind", "labels", "message"),
    [
        ("video", ["a"], "unknown task kind"),
        ("image_classification", [], "at least one label"),
        ("image_boxes", ["a", " "], "blank"),
        ("image_boxes", ["a", "a "], "distinct"),
    ],
)
def test_bad_requests_are_refused(kind: str, labels: list[str], message: str) -> None:
    with pytest.raises(LabelConfigError, match=message):
        render_label_config(kind, labels)
