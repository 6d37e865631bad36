"""A recording's final transcript: task results in source order, stitched on word times."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.db.models import DraftRow, SourceMediaRow, TaskResultRow, TaskRow
from engine.deliverables.transcript_formats import (
    TranscriptWord,
    to_srt,
    to_txt,
    to_vtt,
    transcript_json,
)
from engine.domain.draft import DraftWord, SegmentDraft
from engine.domain.final_word_timing import time_final_text
from engine.domain.stitch_transcript import stitch_drafts
from engine.domain.subtitle_cues import build_cues


@dataclass(frozen=True)
class TranscriptFiles:
    stem: str
    files: dict[str, tuple[bytes, str]]  # name -> (content, content type)
    text: str
    gaps: list[dict[str, Any]]


def _agreements(result: TaskResultRow) -> list[float] | None:
    words = result.detail.get("words") if result.detail else None
    if not words or result.final != result.consensus:
        return None  # a reviewer's correction: the workers' agreement no longer applies
    return [float(w.get("agreement", 1.0)) for w in words]


def assemble_transcript(
    source: SourceMediaRow,
    tasks: Sequence[TaskRow],
    results: Mapping[str, TaskResultRow],
    drafts: Mapping[str, DraftRow],
    stem: str,
) -> TranscriptFiles:
    segments: list[SegmentDraft] = []
    gaps: list[dict[str, Any]] = []
    # Stitching keeps the word objects, so each one's agreement is found again by identity.
    agreement_of: dict[int, float] = {}
    for task in tasks:
        start, end = task.start_seconds or 0.0, task.end_seconds or 0.0
        result = results.get(task.id)
        if result is None or result.final is None:
            reason = (
                result.review_reason if result is not None and result.review_reason else
                task.failure_reason or "no final result"
            )  # fmt: skip
            gaps.append({"task_id": task.id, "start": start, "end": end, "reason": reason})
            continue
        draft = drafts.get(task.id)
        draft_words = [DraftWord.from_json(w) for w in draft.words] if draft else []
        agreements = _agreements(result)
        words = time_final_text(
            str(result.final.get("text", "")),
            draft_words,
            start,
            end,
            agreements,
            answers=result.answers or 1,
        )
        if agreements is not None:
            agreement_of.update(
                (id(word), agreement) for word, agreement in zip(words, agreements, strict=False)
            )
        segments.append(
            SegmentDraft(
                task.id,
                " ".join(w.word for w in words),
                words,
                None,
                "final",
                "en",
                end - start,
                start,
            )  # fmt: skip
        )
    stitched = stitch_drafts(segments)
    timed = [
        TranscriptWord(
            w.word, w.source_start, w.source_end, round(w.probability, 4), agreement_of.get(id(w))
        )
        for w in stitched.words
    ]
    duration = source.duration_seconds or (timed[-1].end if timed else 0.0)
    cues = build_cues(timed, duration=duration)
    txt = to_txt(stitched.text)
    if gaps:
        notes = "".join(
            f"\n[not transcribed: {g['start']:.1f}-{g['end']:.1f} s ({g['reason']})]" for g in gaps
        )
        txt = txt.rstrip("\n") + "\n" + notes.lstrip("\n") + "\n"
    data = transcript_json(
        timed, cues, {"source": source.filename, "source_sha256": source.sha256, "gaps": gaps},
        duration=duration,
    )  # fmt: skip
    import json

    return TranscriptFiles(
        stem,
        {
            f"{stem}.txt": (txt.encode(), "text/plain; charset=utf-8"),
            f"{stem}.srt": (to_srt(cues).encode(), "application/x-subrip"),
            f"{stem}.vtt": (to_vtt(cues).encode(), "text/vtt"),
            f"{stem}.json": (json.dumps(data, ensure_ascii=False).encode(), "application/json"),
        },
        stitched.text,
        gaps,
    )
