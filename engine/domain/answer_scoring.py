"""Score one answer against a reference answer (gold, consensus or review), in [0, 1] (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.domain.box_consensus import Box, iou
from engine.domain.job_stage import JobKind
from engine.domain.scoring import character_error_rate, word_error_rate

BOX_MATCH_IOU = 0.5


@dataclass(frozen=True)
class AnswerScore:
    score: float
    wer: float | None = None
    cer: float | None = None
    correct: bool | None = None


def _boxes(payload: dict[str, Any]) -> list[Box]:
    out = []
    for b in payload.get("boxes", []):
        out.append(Box(b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"], b["label"]))
    return out


def box_match_score(answer: list[Box], reference: list[Box]) -> float:
    """Greedy one-to-one matching by IoU within a label; the sum of matched IoUs over the larger
    count, so misses and extra boxes both cost. Two empty answers agree fully."""
    if not answer and not reference:
        return 1.0
    pairs = sorted(
        (
            (iou(a, r), i, j)
            for i, a in enumerate(answer)
            for j, r in enumerate(reference)
            if a.label == r.label
        ),
        reverse=True,
    )
    used_a: set[int] = set()
    used_r: set[int] = set()
    total = 0.0
    for overlap, i, j in pairs:
        if overlap < BOX_MATCH_IOU or i in used_a or j in used_r:
            continue
        used_a.add(i)
        used_r.add(j)
        total += overlap
    return total / max(len(answer), len(reference))


def score_answer(kind: JobKind, answer: dict[str, Any], reference: dict[str, Any]) -> AnswerScore:
    if kind is JobKind.TRANSCRIPTION:
        ref, hyp = reference.get("text", ""), answer.get("text", "")
        if not ref.strip():
            ok = not hyp.strip()
            return AnswerScore(1.0 if ok else 0.0, 0.0 if ok else 1.0, 0.0 if ok else 1.0)
        wer = word_error_rate(ref, hyp)
        return AnswerScore(max(0.0, 1.0 - wer), wer, character_error_rate(ref, hyp))
    if kind is JobKind.IMAGE_CLASSIFICATION:
        correct = answer.get("label") == reference.get("label")
        return AnswerScore(1.0 if correct else 0.0, correct=correct)
    return AnswerScore(box_match_score(_boxes(answer), _boxes(reference)))
