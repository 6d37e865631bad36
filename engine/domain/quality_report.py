"""A job's quality report from plain inputs (pure): agreement, gold, review, drafts, workers.

``build_quality_report`` returns a JSON-ready dict (``schema_version`` 1); rates are in [0, 1]
(WER may exceed 1) rounded to 4 decimals, and null where nothing was measured::

    {
      "schema_version": 1,
      "job": {...},                                  # metadata as passed in
      "agreement": {                                 # consensus agreement per task
        "tasks": int, "mean", "median", "min", "max",
        "histogram": Histogram,
        "lowest": [{"task_id", "agreement"}]          # up to `lowest_count`, lowest first
      },
      "gold": {"correct": int, "total": int, "accuracy": Estimate | null},
      "review": {
        "reviewed": int, "accepted": int, "corrected": int,
        "acceptance": Estimate | null,                # accepted / reviewed
        "consensus_wer": float | null,                # corpus WER, consensus vs reviewed text
        "wer_tasks": int                              # reviewed tasks with both texts
      },
      "estimated_accuracy": Estimate + {"basis": "review" | "gold"} | null,
      "draft_vs_final": {                            # transcription: machine draft vs final text
        "tasks": int, "mean_wer", "corpus_wer", "histogram": Histogram,
        "per_task": [{"task_id", "wer"}]              # input order
      },
      "workers": [{                                  # most answers first
        "worker", "answers": int, "share",            # share of all answers
        "gold_correct": int, "gold_total": int, "gold_accuracy": Estimate | null,
        "agreement_with_final"                        # as passed in, or null
      }],
      "late_tasks": {"deadline", "count": int, "tasks": [{"task_id", "state", "reason"}]}
    }

    Estimate  = {"value", "low", "high", "successes": int, "trials": int}   # Wilson 95 % interval
    Histogram = {"edges": [0.0, 0.1, ..., 1.0], "counts": [int], "above": int}
                # bins [e_i, e_i+1), the last one closed; "above" counts values > 1 (WER only)

Estimated accuracy is the share of final results a reviewer accepted unchanged, when any were
reviewed: review checks the delivered (consensus) results themselves. Without review it falls
back to the pooled gold accuracy, which scores single workers' answers before consensus and so
tends to understate the delivered accuracy. ``basis`` says which one was used.

WER is computed after the engine's one normalisation (:mod:`engine.domain.scoring`): draft vs
final uses the final text as reference; review uses the reviewed text as reference and the
consensus as hypothesis (a task accepted without a reviewed text counts as unchanged).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.domain.scoring import corpus_error_counts, word_error_rate

QUALITY_REPORT_SCHEMA_VERSION = 1
WILSON_Z_95 = 1.959963984540054
DEFAULT_HISTOGRAM_BINS = 10
DEFAULT_LOWEST_COUNT = 10
_DECIMALS = 4


@dataclass(frozen=True, slots=True)
class GoldTally:
    """One worker's answers on gold tasks: how many matched the known answer."""

    worker: str
    correct: int
    total: int

    def __post_init__(self) -> None:
        if not 0 <= self.correct <= self.total:
            raise ValueError(f"gold tally needs 0 <= correct <= total: {self}")


@dataclass(frozen=True, slots=True)
class ReviewedTask:
    """A reviewer's verdict on one task's consensus; texts for transcription tasks only."""

    task_id: str
    corrected: bool
    consensus_text: str | None = None
    reviewed_text: str | None = None


@dataclass(frozen=True, slots=True)
class DraftRevision:
    """A transcription task's machine draft and its final text."""

    task_id: str
    draft_text: str
    final_text: str


@dataclass(frozen=True, slots=True)
class WorkerActivity:
    """A worker's answers in the job and their agreement with the final results in [0, 1]."""

    worker: str
    answers: int
    agreement_with_final: float | None = None

    def __post_init__(self) -> None:
        if self.answers < 0:
            raise ValueError(f"answers must be >= 0: {self}")
        if self.agreement_with_final is not None:
            _require_unit("agreement_with_final", self.agreement_with_final)


@dataclass(frozen=True, slots=True)
class LateTask:
    """A task that was not final by the deadline, with its state and why."""

    task_id: str
    reason: str
    state: str | None = None


def wilson_interval(successes: int, trials: int, z: float = WILSON_Z_95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95 % for the default ``z``)."""
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0: {successes}/{trials}")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def build_quality_report(
    *,
    task_agreements: Mapping[str, float],
    gold: Sequence[GoldTally] = (),
    reviews: Sequence[ReviewedTask] = (),
    draft_revisions: Sequence[DraftRevision] = (),
    workers: Sequence[WorkerActivity] = (),
    late_tasks: Sequence[LateTask] = (),
    deadline: str | None = None,
    job: Mapping[str, Any] | None = None,
    histogram_bins: int = DEFAULT_HISTOGRAM_BINS,
    lowest_count: int = DEFAULT_LOWEST_COUNT,
) -> dict[str, Any]:
    """The quality report (shape in the module docstring)."""
    if histogram_bins < 1 or lowest_count < 0:
        raise ValueError("histogram_bins must be >= 1 and lowest_count >= 0")
    job_copy = dict(job or {})
    try:
        json.dumps(job_copy, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"job metadata must hold JSON values only: {error}") from None
    _require_unique("gold worker", [g.worker for g in gold])
    _require_unique("reviewed task", [r.task_id for r in reviews])
    _require_unique("draft revision task", [d.task_id for d in draft_revisions])
    _require_unique("worker", [w.worker for w in workers])
    for task_id, value in task_agreements.items():
        _require_unit(f"agreement of task {task_id}", value)

    gold_correct = sum(g.correct for g in gold)
    gold_total = sum(g.total for g in gold)
    review = _review_section(reviews)
    acceptance = review["acceptance"]
    gold_accuracy = _estimate(gold_correct, gold_total)
    estimated: dict[str, Any] | None = None
    if acceptance is not None:
        estimated = {**acceptance, "basis": "review"}
    elif gold_accuracy is not None:
        estimated = {**gold_accuracy, "basis": "gold"}
    return {
        "schema_version": QUALITY_REPORT_SCHEMA_VERSION,
        "job": job_copy,
        "agreement": _agreement_section(task_agreements, histogram_bins, lowest_count),
        "gold": {
            "correct": gold_correct,
            "total": gold_total,
            "accuracy": gold_accuracy,
        },
        "review": review,
        "estimated_accuracy": estimated,
        "draft_vs_final": _draft_section(draft_revisions, histogram_bins),
        "workers": _worker_rows(workers, gold),
        "late_tasks": {
            "deadline": deadline,
            "count": len(late_tasks),
            "tasks": [
                {"task_id": t.task_id, "state": t.state, "reason": t.reason} for t in late_tasks
            ],
        },
    }


def _agreement_section(
    task_agreements: Mapping[str, float], bins: int, lowest_count: int
) -> dict[str, Any]:
    values = list(task_agreements.values())
    lowest = sorted(task_agreements.items(), key=lambda item: (item[1], item[0]))[:lowest_count]
    return {
        "tasks": len(values),
        "mean": _round(statistics.fmean(values)) if values else None,
        "median": _round(statistics.median(values)) if values else None,
        "min": _round(min(values)) if values else None,
        "max": _round(max(values)) if values else None,
        "histogram": _histogram(values, bins),
        "lowest": [{"task_id": t, "agreement": _round(v)} for t, v in lowest],
    }


def _review_section(reviews: Sequence[ReviewedTask]) -> dict[str, Any]:
    corrected = sum(r.corrected for r in reviews)
    pairs: list[tuple[str, str]] = []
    for r in reviews:
        reviewed_text = r.reviewed_text
        if reviewed_text is None and not r.corrected:
            reviewed_text = r.consensus_text  # accepted as it was
        if r.consensus_text is not None and reviewed_text is not None:
            pairs.append((reviewed_text, r.consensus_text))
    return {
        "reviewed": len(reviews),
        "accepted": len(reviews) - corrected,
        "corrected": corrected,
        "acceptance": _estimate(len(reviews) - corrected, len(reviews)),
        "consensus_wer": _round(corpus_error_counts(pairs).error_rate) if pairs else None,
        "wer_tasks": len(pairs),
    }


def _draft_section(revisions: Sequence[DraftRevision], bins: int) -> dict[str, Any]:
    rates = [word_error_rate(d.final_text, d.draft_text) for d in revisions]
    corpus = corpus_error_counts((d.final_text, d.draft_text) for d in revisions)
    return {
        "tasks": len(revisions),
        "mean_wer": _round(statistics.fmean(rates)) if rates else None,
        "corpus_wer": _round(corpus.error_rate) if revisions else None,
        "histogram": _histogram(rates, bins),
        "per_task": [
            {"task_id": d.task_id, "wer": _round(rate)}
            for d, rate in zip(revisions, rates, strict=True)
        ],
    }


def _worker_rows(
    workers: Sequence[WorkerActivity], gold: Sequence[GoldTally]
) -> list[dict[str, Any]]:
    activity = {w.worker: w for w in workers}
    tallies = {g.worker: g for g in gold}
    total_answers = sum(w.answers for w in workers)
    rows: list[dict[str, Any]] = []
    for worker in sorted(activity.keys() | tallies.keys()):
        seen, tally = activity.get(worker), tallies.get(worker)
        answers = seen.answers if seen else 0
        rows.append(
            {
                "worker": worker,
                "answers": answers,
                "share": _round(answers / total_answers) if total_answers else None,
                "gold_correct": tally.correct if tally else 0,
                "gold_total": tally.total if tally else 0,
                "gold_accuracy": _estimate(tally.correct, tally.total) if tally else None,
                "agreement_with_final": (
                    _round(seen.agreement_with_final)
                    if seen and seen.agreement_with_final is not None
                    else None
                ),
            }
        )
    rows.sort(key=lambda row: -row["answers"])  # stable: ties stay by worker name
    return rows


def _estimate(successes: int, trials: int) -> dict[str, Any] | None:
    if trials == 0:
        return None
    low, high = wilson_interval(successes, trials)
    return {
        "value": _round(successes / trials),
        "low": _round(low),
        "high": _round(high),
        "successes": successes,
        "trials": trials,
    }


def _histogram(values: Sequence[float], bins: int) -> dict[str, Any]:
    counts = [0] * bins
    above = 0
    for value in values:
        if value > 1.0:
            above += 1
        else:
            # Rounded first so that 0.57 * 100 = 56.999... lands in bin 57.
            counts[min(int(round(value * bins, 9)), bins - 1)] += 1
    return {"edges": [_round(i / bins) for i in range(bins + 1)], "counts": counts, "above": above}


def _round(value: float) -> float:
    return round(value, _DECIMALS)


def _require_unit(what: str, value: float) -> None:
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{what} must be in [0, 1], got {value}")


def _require_unique(what: str, keys: Sequence[str]) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise ValueError(f"{what} {key!r} is given twice")
        seen.add(key)
