from __future__ import annotations

import html
import io
import json
from datetime import timedelta

import pytest
import srt
import webvtt

from engine.deliverables.transcript_formats import (
    TranscriptWord,
    to_srt,
    to_txt,
    to_vtt,
    transcript_json,
)
from engine.domain.subtitle_cues import Cue, build_cues

CUES = [
    Cue(1, 0.0, 1.5, "Hello there."),
    Cue(2, 1.5, 4.25, "Fish & chips <cheap>\nA --> B"),
    Cue(3, 3725.0015, 3726.999, "An hour later."),
]


def test_txt_of_a_paragraph_and_of_segments() -> None:
    assert to_txt("  Hello\n  world. ") == "Hello world.\n"
    assert to_txt(["First part.", "", "  Second\tpart. "]) == "First part.\n\nSecond part.\n"
    assert to_txt("") == ""
    assert to_txt([]) == ""


def test_srt_parses_back_with_the_srt_library() -> None:
    parsed = list(srt.parse(to_srt(CUES)))
    assert [s.index for s in parsed] == [1, 2, 3]
    assert [s.content for s in parsed] == [
        "Hello there.",
        "Fish & chips <cheap>\nA --> B",
        "An hour later.",
    ]
    assert parsed[1].start == timedelta(seconds=1.5)
    assert parsed[1].end == timedelta(seconds=4.25)
    assert parsed[2].start == timedelta(hours=1, minutes=2, seconds=5, milliseconds=2)
    assert parsed[2].end == timedelta(hours=1, minutes=2, seconds=6, milliseconds=999)


def test_srt_drops_blank_lines_that_would_end_a_cue() -> None:
    text = to_srt([Cue(1, 0.0, 1.0, "one\n\n  two  ")])
    assert text == "1\n00:00:00,000 --> 00:00:01,000\none\ntwo\n\n"
    assert to_srt([]) == ""


def test_vtt_parses_back_with_webvtt_py() -> None:
    text = to_vtt(CUES)
    assert text.startswith("WEBVTT\n")
    captions = webvtt.from_buffer(io.StringIO(text)).captions
    assert [(c.start, c.end) for c in captions] == [
        ("00:00:00.000", "00:00:01.500"),
        ("00:00:01.500", "00:00:04.250"),
        ("01:02:05.002", "01:02:06.999"),
    ]
    # Markup characters are written as character references and read back as the same text.
    assert "--&gt;" in text and "&lt;cheap&gt;" in text and "&amp;" in text
    assert html.unescape(captions[1].raw_text) == "Fish & chips <cheap>\nA --> B"


def test_empty_vtt_is_a_valid_file() -> None:
    text = to_vtt([])
    assert text == "WEBVTT\n"
    assert webvtt.from_buffer(io.StringIO(text)).captions == []


def test_cues_from_words_round_trip_through_srt_and_vtt() -> None:
    words = [
        TranscriptWord(w, i * 0.4, i * 0.4 + 0.3) for i, w in enumerate(["One.", "Two", "three."])
    ]
    cues = build_cues(words, duration=2.0)
    assert [(s.content, s.start.total_seconds()) for s in srt.parse(to_srt(cues))] == [
        ("One.", 0.0),
        ("Two three.", 0.4),
    ]
    assert [c.text for c in webvtt.from_buffer(io.StringIO(to_vtt(cues))).captions] == [
        "One.",
        "Two three.",
    ]


def test_transcript_json_schema() -> None:
    words = [
        TranscriptWord("Hello", 0.0, 0.4, confidence=0.9, agreement=1.0),
        TranscriptWord("world.", 0.5, 0.91234, confidence=0.7, agreement=None),
        TranscriptWord("Bye", 1.2, 1.5),
    ]
    cues = [Cue(1, 0.0, 1.0, "Hello world."), Cue(2, 1.2, 2.2, "Bye")]
    document = transcript_json(words, cues, {"job_id": "j1", "language": "en"})
    assert document == {
        "schema_version": 1,
        "text": "Hello world. Bye",
        "duration": 2.2,
        "words": [
            {"word": "Hello", "start": 0.0, "end": 0.4, "confidence": 0.9, "agreement": 1.0},
            {"word": "world.", "start": 0.5, "end": 0.912, "confidence": 0.7, "agreement": None},
            {"word": "Bye", "start": 1.2, "end": 1.5, "confidence": None, "agreement": None},
        ],
        "segments": [
            {
                "id": 0,
                "start": 0.0,
                "end": 0.912,
                "text": "Hello world.",
                "confidence": 0.8,
                "agreement": 1.0,
            },
            {
                "id": 1,
                "start": 1.2,
                "end": 1.5,
                "text": "Bye",
                "confidence": None,
                "agreement": None,
            },
        ],
        "cues": [
            {"index": 1, "start": 0.0, "end": 1.0, "text": "Hello world."},
            {"index": 2, "start": 1.2, "end": 2.2, "text": "Bye"},
        ],
        "metadata": {"job_id": "j1", "language": "en"},
    }
    assert json.loads(json.dumps(document)) == document


def test_transcript_json_of_nothing_and_given_duration() -> None:
    assert transcript_json([], [], duration=12.0) == {
        "schema_version": 1,
        "text": "",
        "duration": 12.0,
        "words": [],
        "segments": [],
        "cues": [],
        "metadata": {},
    }


def test_transcript_json_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(ValueError):
        transcript_json([], [], {"when": object()})
    with pytest.raises(ValueError):
        transcript_json([TranscriptWord("a", 0.0, 1.0, confidence=float("nan"))], [])
    with pytest.raises(ValueError):
        transcript_json([], [], duration=float("inf"))
