"""A job's quality report from plain inputs (pure): agreement, gold, review, drafts, workers.

``build_quality_report`` returns a JSON-ready dict (``schema_version`` 2); rates are in [0, 1]
(WER may exceed 1) rounded to 4 decimals, and null where nothing was measured::

    {
      "schema_version": 2,
      "job": {...},                                  # metadata as passed in
      "agreement": {                                 # consensus agreement per task
        "tasks": int, "mean", "median", "min", "max",
        "histogram": Histogram,
        "lowest": [{"task_id", "agreement"}]          # up to `lowest_count`, lowest first
      },
      "gold": {"correct": int, "total": int, "accuracy": Estimate | null},  # single answers
      "review": {
        "reviewed": int, "accepted": int, "corrected": int,
        "acceptance": Estimate | null,                # accepted / reviewed
        "consensus_wer": float | null,                # corpus WER, consensus vs reviewed text
        "wer_tasks": int                              # reviewed tasks with both texts
      },
      "estimated_accuracy": Accuracy | null,         # share of delivered results that are right
      "sources": [{                                  # per delivered file
        "name", "media_type", "duration_seconds", "tasks": int, "reviewed": int,
        "accuracy": Accuracy | null,                  # calibrated on the whole job
        "wer": {"checked_segments", "consensus_wer_on_checked", "estimated_delivered_wer"},
                                                      # transcription only
        "boxes": {"checked_tasks", "precision", "recall"},          # box jobs only
        "worst": [{"task_id", "seq", "start_seconds", "end_seconds", "agreement",
                   "reviewed", "consensus_wer"}]     # highest known WER, then lowest agreement
      }],
      "draft_vs_final": {                            # transcription only (else null)
        "tasks": int, "mean_wer", "corpus_wer", "histogram": Histogram,
        "per_task": [{"task_id", "wer"}]              # input order
      } | null,
      "workers": [{                                  # most answers first
        "worker", "answers", "share", "gold_correct", "gold_total", "gold_accuracy",
        "agreement_with_final",                       # vs what was delivered, as passed in
        "checked_score", "checked_answers"            # vs known truth (gold and review)
      }],
      "late_tasks": {"deadline", "count": int, "tasks": [{"task_id", "state", "reason"}]}
    }

    Estimate  = {"value", "low", "high", "successes": int, "trials": int}   # Wilson 95 % interval
    Accuracy  = {"headline": float | null,           # null: the interval is wider than max_width
                 "value", "low", "high", "max_width", "conclusive", "delivered", "reviewed",
                 "checked_tasks", "gold_checks", "basis", "strata": [...], "needed": [str]}
    Histogram = {"edges": [0.0, 0.1, ..., 1.0], "counts": [int], "above": int}
                # bins [e_i, e_i+1), the last one closed; "above" counts values > 1 (WER only)

Estimated accuracy (:mod:`engine.domain.accuracy_estimate`) uses all the evidence: reviewed
results are delivered as the reviewer left them; the unreviewed ones are judged by their
agreement, calibrated on the tasks whose truth is known (reviews, and the workers' consensus
on gold tasks). Its 95 % interval is always shown; the headline number only when the interval
is at most ``max_width`` wide, otherwise the report says what would narrow it.

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

from engine.domain.accuracy_estimate import (
    AccuracyEstimate,
    CheckedTask,
    estimate_delivered_accuracy,
)
from engine.domain.scoring import corpus_error_counts, word_error_rate

QUALITY_REPORT_SCHEMA_VERSION = 2
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
    # Mean score against known truth (gold answers and reviewed results), and on how many.
    checked_score: float | None = None
    checked_answers: int = 0

    def __post_init__(self) -> None:
        if self.answers < 0:
            raise ValueError(f"answers must be >= 0: {self}")
        for name in ("agreement_with_final", "checked_score"):
            value = getattr(self, name)
            if value is not None:
                _require_unit(name, value)


@dataclass(frozen=True, slots=True)
class DeliveredTask:
    """A delivered result: where it comes from, how much the workers agreed, and what is known
    of its truth. ``consensus_correct`` is set when a reviewer saw it (accepted = right);
    ``consensus_wer`` (transcription) and ``box_counts`` (matched, drawn, true) compare the
    consensus with the reviewed answer."""

    task_id: str
    source: str
    agreement: float
    reviewed: bool = False
    consensus_correct: bool | None = None
    seq: int | None = None
    start_seconds: float | None = None
    end_seconds: float | None = None
    words: int = 0
    consensus_wer: float | None = None
    box_counts: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        _require_unit(f"agreement of task {self.task_id}", self.agreement)
        if self.reviewed and self.consensus_correct is None:
            raise ValueError(f"a reviewed task needs its verdict: {self.task_id}")


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A delivered source file (gold files are not delivered)."""

    name: str
    media_type: str
    duration_seconds: float | None = None


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
    delivered: Sequence[DeliveredTask] = (),
    gold_checks: Sequence[CheckedTask] = (),
    sources: Sequence[SourceFile] = (),
    kind: str | None = None,
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
    _require_unique("delivered task", [d.task_id for d in delivered])
    review = _review_section(reviews)
    gold_accuracy = _estimate(gold_correct, gold_total)
    checks = [*gold_checks, *_review_checks(delivered)]
    estimate = estimate_delivered_accuracy(
        [d.agreement for d in delivered], [d.reviewed for d in delivered], checks
    )
    transcription = kind in (None, "transcription")
    return {
        "schema_version": QUALITY_REPORT_SCHEMA_VERSION,
        "job": job_copy,
        "agreement": _agreement_section(
            task_agreements, histogram_bins, lowest_count, _task_names(delivered)
        ),
        "gold": {
            "correct": gold_correct,
            "total": gold_total,
            "accuracy": gold_accuracy,
        },
        "review": review,
        "estimated_accuracy": _estimate_section(estimate, len(gold_checks)),
        "sources": [_source_section(f, delivered, checks, kind) for f in sources],
        "draft_vs_final": (
            _draft_section(draft_revisions, histogram_bins, _task_names(delivered))
            if transcription
            else None
        ),
        "workers": _worker_rows(workers, gold),
        "late_tasks": {
            "deadline": deadline,
            "count": len(late_tasks),
            "tasks": [
                {"task_id": t.task_id, "state": t.state, "reason": t.reason} for t in late_tasks
            ],
        },
    }


def _review_checks(delivered: Sequence[DeliveredTask]) -> list[CheckedTask]:
    return [
        CheckedTask(d.agreement, bool(d.consensus_correct))
        for d in delivered
        if d.reviewed and d.consensus_correct is not None
    ]


def _estimate_section(estimate: AccuracyEstimate, gold_checks: int) -> dict[str, Any] | None:
    if estimate.value is None or estimate.low is None or estimate.high is None:
        return None
    return {
        # The headline is withheld when the interval is too wide to say anything useful.
        "headline": _round(estimate.value) if estimate.conclusive else None,
        "value": _round(estimate.value),
        "low": _round(estimate.low),
        "high": _round(estimate.high),
        "max_width": estimate.max_width,
        "conclusive": estimate.conclusive,
        "delivered": estimate.delivered,
        "reviewed": estimate.reviewed,
        "checked_tasks": estimate.calibration_tasks,
        "gold_checks": gold_checks,
        "basis": "reviews, gold and agreement calibrated on them",
        "strata": [
            {
                "low": s.low,
                "high": s.high,
                "delivered": s.delivered,
                "reviewed": s.reviewed,
                "checked": s.calibration_total,
                "checked_right": s.calibration_correct,
            }
            for s in estimate.strata
        ],
        "needed": estimate.needed(),
    }


def _source_section(
    source: SourceFile,
    delivered: Sequence[DeliveredTask],
    checks: Sequence[CheckedTask],
    kind: str | None,
) -> dict[str, Any]:
    """One delivered file: its estimated accuracy (calibrated on the whole job), what was
    measured on its checked tasks, and its worst segments."""
    own = [d for d in delivered if d.source == source.name]
    estimate = estimate_delivered_accuracy(
        [d.agreement for d in own], [d.reviewed for d in own], checks
    )
    section: dict[str, Any] = {
        "name": source.name,
        "media_type": source.media_type,
        "duration_seconds": source.duration_seconds,
        "tasks": len(own),
        "reviewed": sum(d.reviewed for d in own),
        "accuracy": _estimate_section(estimate, 0),
    }
    if kind in (None, "transcription"):
        section["wer"] = _source_wer(own, delivered, estimate.conclusive)
    elif kind == "image_boxes":
        counts = [d.box_counts for d in own if d.box_counts is not None]
        matched, drawn, true = (sum(c[i] for c in counts) for i in range(3))
        section["boxes"] = {
            "checked_tasks": len(counts),
            "precision": _round(matched / drawn) if drawn else None,
            "recall": _round(matched / true) if true else None,
        }
    worst = sorted(own, key=lambda d: (-(d.consensus_wer or 0.0), d.agreement, d.seq or 0))
    section["worst"] = [
        {
            "task_id": d.task_id,
            "seq": d.seq,
            "start_seconds": d.start_seconds,
            "end_seconds": d.end_seconds,
            "agreement": _round(d.agreement),
            "reviewed": d.reviewed,
            "consensus_wer": None if d.consensus_wer is None else _round(d.consensus_wer),
        }
        for d in worst[:DEFAULT_LOWEST_COUNT]
    ]
    return section


def _source_wer(
    own: Sequence[DeliveredTask], delivered: Sequence[DeliveredTask], conclusive: bool
) -> dict[str, Any]:
    """WER of the consensus on the file's reviewed segments, and the delivered file's WER
    estimated from them: reviewed segments are delivered as reviewed (no errors), the others
    carry the job's mean consensus WER at their agreement level."""
    checked = [d for d in own if d.consensus_wer is not None]
    checked_words = sum(d.words for d in checked)
    measured = (
        sum(d.words * (d.consensus_wer or 0.0) for d in checked) / checked_words
        if checked_words
        else None
    )
    by_level: dict[bool, tuple[float, int]] = {}
    for d in delivered:
        if d.consensus_wer is not None:
            errors, words = by_level.get(d.agreement >= 0.9, (0.0, 0))
            by_level[d.agreement >= 0.9] = (errors + d.words * d.consensus_wer, words + d.words)
    words_total = sum(d.words for d in own)
    estimated: float | None = None
    if conclusive and words_total:
        errors = 0.0
        for d in own:
            level = by_level.get(d.agreement >= 0.9)
            if d.reviewed:
                continue
            if not level or not level[1]:
                break  # no checked segment at this agreement level: no estimate
            errors += d.words * level[0] / level[1]
        else:
            estimated = errors / words_total
    return {
        "checked_segments": len(checked),
        "consensus_wer_on_checked": None if measured is None else _round(measured),
        "estimated_delivered_wer": None if estimated is None else _round(estimated),
    }


def _task_names(delivered: Sequence[DeliveredTask]) -> dict[str, str]:
    """A readable name per task: its file, segment number and time span."""
    names = {}
    for d in delivered:
        name = d.source if d.seq is None else f"{d.source} #{d.seq}"
        if d.start_seconds is not None and d.end_seconds is not None:
            name += f" ({_clock(d.start_seconds)}–{_clock(d.end_seconds)})"
        names[d.task_id] = name
    return names


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def _agreement_section(
    task_agreements: Mapping[str, float],
    bins: int,
    lowest_count: int,
    names: Mapping[str, str],
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
        "lowest": [
            {"task_id": t, "task": names.get(t, t), "agreement": _round(v)} for t, v in lowest
        ],
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


def _draft_section(
    revisions: Sequence[DraftRevision], bins: int, names: Mapping[str, str]
) -> dict[str, Any]:
    rates = [word_error_rate(d.final_text, d.draft_text) for d in revisions]
    corpus = corpus_error_counts((d.final_text, d.draft_text) for d in revisions)
    return {
        "tasks": len(revisions),
        "mean_wer": _round(statistics.fmean(rates)) if rates else None,
        "corpus_wer": _round(corpus.error_rate) if revisions else None,
        "histogram": _histogram(rates, bins),
        "per_task": [
            {"task_id": d.task_id, "task": names.get(d.task_id, d.task_id), "wer": _round(rate)}
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
                "checked_score": (
                    _round(seen.checked_score) if seen and seen.checked_score is not None else None
                ),
                "checked_answers": seen.checked_answers if seen else 0,
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
