"""Transcript deliverables as strings and JSON-ready dicts (pure): plain text, SRT, WebVTT, JSON.

Times are seconds of the source recording, written with millisecond precision. SRT is composed
with the ``srt`` library and WebVTT with ``webvtt-py``, so both parse back with those libraries.
In WebVTT, ``&``, ``<`` and ``>`` in cue text are written as character references (the format
reads ``<`` as the start of a tag, and a cue may not contain ``-->``); SRT has no escaping and
carries the text as it is, minus blank lines, which would end the cue.

``transcript_json`` schema (``schema_version`` 1)::

    {
      "schema_version": 1,
      "text": "whole transcript",
      "duration": 12.5,                       # seconds of audio
      "words": [{"word", "start", "end", "confidence", "agreement"}],
      "segments": [{"id", "start", "end", "text", "confidence", "agreement"}],
      "cues": [{"index", "start", "end", "text"}],
      "metadata": {...}                       # as passed in (JSON values only)
    }

``segments`` are the transcript's sentences (cut where :func:`ends_sentence` says); their
``confidence`` and ``agreement`` are the means over their words that have one, else null.
``agreement`` is the share of voter weight behind the word in the consensus (null for a
reviewer's text); ``confidence`` combines it with the recogniser's probability of the word
(:func:`engine.domain.final_word_timing.word_confidence`); either is null when unknown.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import srt
import webvtt

from engine.domain.draft import join_words
from engine.domain.subtitle_cues import Cue, ends_sentence

TRANSCRIPT_JSON_SCHEMA_VERSION = 1
_SCORE_DECIMALS = 4


@dataclass(frozen=True, slots=True)
class TranscriptWord:
    """A final word with source times (seconds) and, when known, its quality signals in [0, 1]."""

    text: str
    start: float
    end: float
    confidence: float | None = None
    agreement: float | None = None


def to_txt(transcript: str | Sequence[str]) -> str:
    """Plain text: one paragraph, or one paragraph per segment separated by a blank line.

    Whitespace inside a paragraph collapses to single spaces; empty paragraphs are dropped; the
    file ends with a newline unless there is no text at all.
    """
    paragraphs = [transcript] if isinstance(transcript, str) else list(transcript)
    kept = [" ".join(p.split()) for p in paragraphs if p.strip()]
    return "\n\n".join(kept) + "\n" if kept else ""


def to_srt(cues: Sequence[Cue]) -> str:
    """SubRip text of ``cues``, numbered from 1 in order of start time."""
    subtitles = [
        srt.Subtitle(
            index=cue.index,
            start=timedelta(milliseconds=_milliseconds(cue.start)),
            end=timedelta(milliseconds=_milliseconds(cue.end)),
            content=_cue_lines(cue.text),
        )
        for cue in cues
    ]
    return srt.compose(subtitles, reindex=True, start_index=1)


def to_vtt(cues: Sequence[Cue]) -> str:
    """WebVTT text of ``cues`` (``WEBVTT`` header, then one block per cue)."""
    document = webvtt.WebVTT()
    for cue in cues:
        document.captions.append(
            webvtt.Caption(
                start=_vtt_timestamp(cue.start),
                end=_vtt_timestamp(cue.end),
                text=_vtt_escape(_cue_lines(cue.text)),
            )
        )
    return document.content


def transcript_json(
    words: Sequence[TranscriptWord],
    cues: Sequence[Cue],
    metadata: Mapping[str, Any] | None = None,
    *,
    duration: float | None = None,
) -> dict[str, Any]:
    """The JSON deliverable (schema in the module docstring); ``duration`` defaults to the end of
    the last word or cue."""
    metadata_copy = dict(metadata or {})
    try:
        json.dumps(metadata_copy, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"metadata must hold JSON values only: {error}") from None
    if duration is None:
        duration = max([0.0, *(w.end for w in words), *(c.end for c in cues)])
    elif not (math.isfinite(duration) and duration >= 0):
        raise ValueError(f"duration must be finite and >= 0, got {duration}")
    return {
        "schema_version": TRANSCRIPT_JSON_SCHEMA_VERSION,
        "text": join_words(w.text for w in words),
        "duration": _seconds(duration),
        "words": [
            {
                "word": w.text,
                "start": _seconds(w.start),
                "end": _seconds(w.end),
                "confidence": _score(w.confidence),
                "agreement": _score(w.agreement),
            }
            for w in words
        ],
        "segments": _sentence_segments(words),
        "cues": [
            {
                "index": c.index,
                "start": _seconds(c.start),
                "end": _seconds(c.end),
                "text": c.text,
            }
            for c in cues
        ],
        "metadata": metadata_copy,
    }


def _sentence_segments(words: Sequence[TranscriptWord]) -> list[dict[str, Any]]:
    sentences: list[list[TranscriptWord]] = [[]]
    for word in words:
        sentences[-1].append(word)
        if ends_sentence(word.text):
            sentences.append([])
    return [
        {
            "id": number,
            "start": _seconds(min(w.start for w in sentence)),
            "end": _seconds(max(w.end for w in sentence)),
            "text": join_words(w.text for w in sentence),
            "confidence": _mean_score([w.confidence for w in sentence]),
            "agreement": _mean_score([w.agreement for w in sentence]),
        }
        for number, sentence in enumerate((s for s in sentences if s), start=0)
    ]


def _mean_score(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return _score(sum(known) / len(known)) if known else None


def _score(value: float | None) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value):
        raise ValueError(f"scores must be finite, got {value}")
    return round(value, _SCORE_DECIMALS)


def _seconds(value: float) -> float:
    return _milliseconds(value) / 1000


def _milliseconds(seconds: float) -> int:
    if not math.isfinite(seconds):
        raise ValueError(f"times must be finite, got {seconds}")
    return round(seconds * 1000)


def _cue_lines(text: str) -> str:
    """Cue text without blank or padded lines: a blank line ends a cue in SRT and WebVTT."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt_timestamp(seconds: float) -> str:
    hours, rest = divmod(_milliseconds(seconds), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole_seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole_seconds:02d}.{millis:03d}"
