"""A simulated box job with known truth, run through the engine's own consensus, scoring and
quality-report code (pure: a seeded ``random.Random``, no I/O).

It does what the score stage, a careful QA reviewer and the report do, in memory: gold answers
are scored against gold and weigh their workers (:func:`estimate_skill`), each task's answers are
merged (:func:`merge_boxes`, skill-weighted), every answer is scored against the consensus
(:func:`score_answer`), results under the review threshold go to a reviewer who accepts a right
result and corrects a wrong one with the truth (answers are then scored against the review),
and :func:`build_quality_report` gets the delivered results, the gold checks and the workers'
agreement as the assembly stage passes them. Next to that it keeps what only a simulation
knows: each worker's score against the truth, and how many delivered results are right.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.domain.accuracy_estimate import CheckedTask
from engine.domain.answer_scoring import score_answer
from engine.domain.box_consensus import Box, box_match_counts
from engine.domain.job_stage import JobKind
from engine.domain.quality_report import (
    DeliveredTask,
    GoldTally,
    SourceFile,
    WorkerActivity,
    build_quality_report,
)
from engine.domain.worker_skill import TierPolicy, estimate_skill
from engine.quality.consensus import AnswerIn, merge_boxes
from engine.simulation.error_models import WorkerProfile, noisy_boxes

SOURCE_NAME = "simulated.png"
_KIND = JobKind.IMAGE_BOXES
_RIGHT_SCORE = 0.95  # a gold answer scoring at least this counts as right (as the report does)


@dataclass(frozen=True)
class BoxTask:
    """One image and the boxes truly on it (``{"label", "x", "y", "w", "h"}`` in pixels)."""

    task_id: str
    width: float
    height: float
    truth: tuple[dict[str, Any], ...]
    is_gold: bool = False


@dataclass(frozen=True)
class BoxJobOutcome:
    """What the engine reported, next to the truth.

    ``agreement``: per worker, the mean score against what was delivered (the review where
    there is one, else the consensus), as the report's ``agreement_with_final``;
    ``truth_score``: the mean score of the same answers against the truth. ``delivered_right``:
    the share of delivered results whose boxes all match the truth one-to-one (same label,
    IoU >= 0.5); ``precision``/``recall``: of all delivered boxes against all true boxes.
    """

    agreement: dict[str, float]
    answers: dict[str, int]
    truth_score: dict[str, float]
    delivered_right: float
    precision: float
    recall: float
    report: dict[str, Any]


def random_box_tasks(
    rng: random.Random,
    count: int,
    labels: Sequence[str],
    *,
    gold: int = 0,
    width: float = 800.0,
    height: float = 600.0,
    max_boxes: int = 3,
) -> list[BoxTask]:
    """``count`` images with 1..``max_boxes`` boxes each (60-250 px a side), the first ``gold``
    of them gold tasks."""
    tasks = []
    for n in range(count):
        boxes = []
        for _ in range(rng.randint(1, max_boxes)):
            w, h = rng.uniform(60.0, 250.0), rng.uniform(60.0, 250.0)
            x, y = rng.uniform(0.0, width - w), rng.uniform(0.0, height - h)
            boxes.append({"label": rng.choice(list(labels)), "x": x, "y": y, "w": w, "h": h})
        tasks.append(BoxTask(f"img-{n:04d}", width, height, tuple(boxes), is_gold=n < gold))
    return tasks


def boxes_of(payload: Mapping[str, Any]) -> list[Box]:
    return [
        Box(b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"], b["label"])
        for b in payload.get("boxes", [])
    ]


def all_boxes_right(answer: Mapping[str, Any], truth: Mapping[str, Any]) -> bool:
    """Every box matched one-to-one to a true box of its label at IoU >= 0.5, none left over:
    the report's test of a right box result."""
    matched, drawn, true = box_match_counts(boxes_of(answer), boxes_of(truth))
    return matched == drawn == true


def run_box_job(
    tasks: Sequence[BoxTask],
    crowd: Sequence[WorkerProfile],
    rng: random.Random,
    *,
    labels: Sequence[str],
    overlap: int = 3,
    review_threshold: float = 0.75,
    policy: TierPolicy | None = None,
) -> BoxJobOutcome:
    """Each task answered by ``overlap`` workers drawn at random from ``crowd``."""
    if not 1 <= overlap <= len(crowd):
        raise ValueError(f"overlap must be in 1..{len(crowd)}, got {overlap}")
    answers: list[AnswerIn] = []
    for task in tasks:
        for profile in rng.sample(list(crowd), overlap):
            noisy = noisy_boxes(task.truth, task.width, task.height, profile, rng, labels=labels)
            answers.append(AnswerIn(task.task_id, profile.handle, {"boxes": noisy}))
    by_id = {t.task_id: t for t in tasks}
    truth = {t.task_id: {"boxes": list(t.truth)} for t in tasks}
    on_gold = [a for a in answers if by_id[a.task_id].is_gold]
    regular = [a for a in answers if not by_id[a.task_id].is_gold]

    # Score stage: gold first, then skill-weighted consensus, then scores against it.
    gold_scores: dict[str, list[float]] = {p.handle: [] for p in crowd}
    for a in on_gold:
        gold_scores[a.worker_id].append(score_answer(_KIND, a.payload, truth[a.task_id]).score)
    skill_policy = policy or TierPolicy()
    weights = {w: estimate_skill(s, skill_policy).consensus_weight for w, s in gold_scores.items()}
    merged = merge_boxes(regular, weights)

    # A careful reviewer sees the results under the threshold.
    final: dict[str, dict[str, Any]] = {}
    reviewed: dict[str, bool] = {}
    for task_id, result in merged.items():
        reviewed[task_id] = result.agreement < review_threshold
        if reviewed[task_id] and not all_boxes_right(result.payload, truth[task_id]):
            final[task_id] = truth[task_id]
        else:
            final[task_id] = result.payload

    against_final: dict[str, list[float]] = {}
    against_truth: dict[str, list[float]] = {}
    for a in regular:
        reference = final[a.task_id] if reviewed[a.task_id] else merged[a.task_id].payload
        score = score_answer(_KIND, a.payload, reference).score
        against_final.setdefault(a.worker_id, []).append(score)
        against_truth.setdefault(a.worker_id, []).append(
            score_answer(_KIND, a.payload, truth[a.task_id]).score
        )

    delivered = [
        DeliveredTask(
            task_id=task_id,
            source=SOURCE_NAME,
            agreement=min(1.0, max(0.0, result.agreement)),
            reviewed=reviewed[task_id],
            consensus_correct=(
                all_boxes_right(result.payload, final[task_id]) if reviewed[task_id] else None
            ),
            box_counts=(
                box_match_counts(boxes_of(result.payload), boxes_of(final[task_id]))
                if reviewed[task_id]
                else None
            ),
        )
        for task_id, result in sorted(merged.items())
    ]
    # The report calibrates agreement on the workers' (unweighted) consensus of each gold task.
    gold_merged = merge_boxes(on_gold, {})
    gold_checks = [
        CheckedTask(min(1.0, max(0.0, m.agreement)), all_boxes_right(m.payload, truth[t]))
        for t, m in sorted(gold_merged.items())
    ]
    tallies = [
        GoldTally(w, sum(s >= _RIGHT_SCORE for s in scores), len(scores))
        for w, scores in sorted(gold_scores.items())
        if scores
    ]
    activity = [
        WorkerActivity(w, len(scores), statistics.fmean(scores))
        for w, scores in sorted(against_final.items())
    ]
    report = build_quality_report(
        task_agreements={d.task_id: d.agreement for d in delivered},
        gold=tallies,
        workers=activity,
        delivered=delivered,
        gold_checks=gold_checks,
        sources=[SourceFile(SOURCE_NAME, "image/png")],
        kind=_KIND.value,
    )

    matched = drawn = true = right = 0
    for task_id, payload in final.items():
        m, d, t = box_match_counts(boxes_of(payload), boxes_of(truth[task_id]))
        matched, drawn, true, right = matched + m, drawn + d, true + t, right + (m == d == t)
    return BoxJobOutcome(
        agreement={w: statistics.fmean(s) for w, s in against_final.items()},
        answers={w: len(s) for w, s in against_final.items()},
        truth_score={w: statistics.fmean(s) for w, s in against_truth.items()},
        delivered_right=right / len(final) if final else 1.0,
        precision=matched / drawn if drawn else 1.0,
        recall=matched / true if true else 1.0,
        report=report,
    )
