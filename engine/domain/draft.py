"""Machine drafts of audio segments (pure dataclasses, stored as JSON).

A draft is what a worker corrects instead of typing from silence. Times are in seconds; every
word carries both its time inside the segment (``start``/``end``, what the task player shows)
and its time in the source recording (``source_start``/``source_end``, what stitching uses).

``to_json`` returns plain dicts (str, float, bool, list, None) so a draft can be stored as JSON
in object storage and in the database; ``from_json`` reads them back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

DRAFT_SCHEMA_VERSION = 1


def join_words(words: Iterable[str]) -> str:
    """Words as text: single spaces, except before a hyphen Whisper split off a compound
    (``flower`` + ``-fattened`` -> ``flower-fattened``)."""
    text = ""
    for word in words:
        word = word.strip()
        if not word:
            continue
        text += word if not text or word.startswith("-") else " " + word
    return text


@dataclass(frozen=True, slots=True)
class DraftWord:
    """One recognised word; ``word`` has no surrounding whitespace, punctuation stays attached."""

    word: str
    start: float
    end: float
    source_start: float
    source_end: float
    probability: float
    low_confidence: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "word": self.word,
            "start": self.start,
            "end": self.end,
            "source_start": self.source_start,
            "source_end": self.source_end,
            "probability": self.probability,
            "low_confidence": self.low_confidence,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DraftWord:
        return cls(
            word=str(data["word"]),
            start=float(data["start"]),
            end=float(data["end"]),
            source_start=float(data["source_start"]),
            source_end=float(data["source_end"]),
            probability=float(data["probability"]),
            low_confidence=bool(data.get("low_confidence", False)),
        )


@dataclass(frozen=True, slots=True)
class SegmentDraft:
    """The draft of one segment (one task).

    ``offset_seconds`` is where the segment starts in the source recording and ``duration`` its
    length, so ``[offset_seconds, offset_seconds + duration]`` is its extent in the source.
    ``error`` is set (and ``text``/``words`` are empty) when this segment could not be drafted;
    the other segments of the same call are unaffected.
    """

    task_id: str
    text: str
    words: tuple[DraftWord, ...]
    avg_logprob: float | None
    model_version: str
    language: str
    duration: float
    offset_seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def source_end(self) -> float:
        return self.offset_seconds + self.duration

    def with_words(self, words: tuple[DraftWord, ...]) -> SegmentDraft:
        return replace(self, words=words)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": DRAFT_SCHEMA_VERSION,
            "task_id": self.task_id,
            "text": self.text,
            "words": [word.to_json() for word in self.words],
            "avg_logprob": self.avg_logprob,
            "model_version": self.model_version,
            "language": self.language,
            "duration": self.duration,
            "offset_seconds": self.offset_seconds,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SegmentDraft:
        version = int(data.get("schema_version", DRAFT_SCHEMA_VERSION))
        if version != DRAFT_SCHEMA_VERSION:
            raise ValueError(f"unsupported draft schema_version {version}")
        avg_logprob = data.get("avg_logprob")
        error = data.get("error")
        return cls(
            task_id=str(data["task_id"]),
            text=str(data["text"]),
            words=tuple(DraftWord.from_json(word) for word in data.get("words", [])),
            avg_logprob=None if avg_logprob is None else float(avg_logprob),
            model_version=str(data["model_version"]),
            language=str(data["language"]),
            duration=float(data["duration"]),
            offset_seconds=float(data.get("offset_seconds", 0.0)),
            error=None if error is None else str(error),
        )
