"""Merge a job's answers into one result per task, by kind (calls the pure consensus code)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.domain.box_consensus import Box, BoxAnswer, aggregate_boxes
from engine.domain.dawid_skene import CategoricalAnswer, dawid_skene
from engine.domain.job_stage import JobKind
from engine.domain.rover_vote import SurfaceWord, rover_vote


@dataclass(frozen=True)
class AnswerIn:
    task_id: str
    worker_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class MergedResult:
    payload: dict[str, Any]
    agreement: float
    detail: dict[str, Any]
    answers: int


def merge_texts(
    answers: Sequence[AnswerIn],
    weights: Mapping[str, float],
    drafts: Mapping[str, str],
) -> dict[str, MergedResult]:
    """ROVER per task, skill-weighted, with the ASR draft as a low-weight voter.

    The vote is on normalised tokens; the result's text is the consensus as the answers wrote
    it (case, punctuation, numerals), and ``detail.words`` holds one entry per word of that
    text (split on whitespace) with the share of voter weight behind it."""
    by_task: dict[str, list[tuple[str, str]]] = {}
    for a in answers:
        by_task.setdefault(a.task_id, []).append((a.worker_id, a.payload.get("text", "")))
    out = {}
    for task_id, pairs in by_task.items():
        vote = rover_vote(pairs, weights, asr_draft=drafts.get(task_id))
        surface = vote.surface_words or tuple(SurfaceWord(w.word, w.agreement) for w in vote.words)
        out[task_id] = MergedResult(
            {"text": vote.surface_text},
            vote.agreement,
            {"words": [{"word": w.text, "agreement": round(w.agreement, 4)} for w in surface]},
            len(pairs),
        )
    return out


def merge_labels(
    answers: Sequence[AnswerIn], weights: Mapping[str, float], gold: Mapping[str, str]
) -> dict[str, MergedResult]:
    """Dawid–Skene over the whole job, anchored by the gold tasks' known labels."""
    if not answers:
        return {}
    result = dawid_skene(
        [CategoricalAnswer(a.task_id, a.worker_id, a.payload["label"]) for a in answers],
        weights=weights,
        gold={t: g for t, g in gold.items() if any(a.task_id == t for a in answers)},
    )
    counts: dict[str, int] = {}
    for a in answers:
        counts[a.task_id] = counts.get(a.task_id, 0) + 1
    out = {}
    for task_id, label in result.labels.items():
        posterior = result.posterior(task_id)
        out[task_id] = MergedResult(
            {"label": label},
            posterior[label],
            {"posterior": {k: round(v, 4) for k, v in posterior.items()}},
            counts.get(task_id, 0),
        )
    return out


def merge_boxes(
    answers: Sequence[AnswerIn], weights: Mapping[str, float]
) -> dict[str, MergedResult]:
    """IoU clustering per label, skill-weighted fusion; agreement is the weakest object's
    vote share (engine/domain/box_consensus.py ``ImageBoxConsensus.agreement``)."""
    box_answers = []
    participants: dict[str, set[str]] = {}
    for a in answers:
        participants.setdefault(a.task_id, set()).add(a.worker_id)
        for b in a.payload.get("boxes", []):
            box_answers.append(
                BoxAnswer(a.task_id, a.worker_id,
                          Box(b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"], b["label"]))
            )  # fmt: skip
    fused = aggregate_boxes(box_answers, participants, weights)
    out = {}
    for task_id, consensus in fused.items():
        boxes = [
            {
                "label": f.box.label,
                "x": f.box.x_min,
                "y": f.box.y_min,
                "w": f.box.x_max - f.box.x_min,
                "h": f.box.y_max - f.box.y_min,
                "agreement": round(f.support, 4),
            }  # fmt: skip
            for f in consensus.boxes
        ]
        # The weakest object decides: a true box most workers missed lowers it too.
        agreement = round(consensus.agreement, 4)
        out[task_id] = MergedResult(
            {"boxes": [{k: v for k, v in b.items() if k != "agreement"} for b in boxes]},
            agreement,
            {
                "boxes": boxes,
                "missed": {w: list(ix) for w, ix in consensus.missed.items() if ix},
                "extra": {w: len(bx) for w, bx in consensus.extra.items() if bx},
            },
            len(participants.get(task_id, ())),
        )
    return out


def merge(
    kind: JobKind,
    answers: Sequence[AnswerIn],
    weights: Mapping[str, float],
    drafts: Mapping[str, str],
    gold_labels: Mapping[str, str],
) -> dict[str, MergedResult]:
    if kind is JobKind.TRANSCRIPTION:
        return merge_texts(answers, weights, drafts)
    if kind is JobKind.IMAGE_CLASSIFICATION:
        return merge_labels(answers, weights, gold_labels)
    return merge_boxes(answers, weights)
