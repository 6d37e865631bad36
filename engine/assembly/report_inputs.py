"""Collect the quality report's inputs from a job's rows.

Besides the rows ``_build_files`` passes, the job's own session gives what the call does not
carry (client, source files, gold tasks), so the call signature stays as it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from engine.db.models import (
    AnswerRow,
    AnswerScoreRow,
    ClientRow,
    DraftRow,
    JobRow,
    ReviewRow,
    SourceMediaRow,
    TaskResultRow,
    TaskRow,
)
from engine.domain.accuracy_estimate import CheckedTask
from engine.domain.answer_scoring import score_answer
from engine.domain.box_consensus import Box, box_match_counts
from engine.domain.job_stage import JobKind
from engine.domain.quality_report import (
    DeliveredTask,
    DraftRevision,
    GoldTally,
    LateTask,
    ReviewedTask,
    SourceFile,
    WorkerActivity,
    build_quality_report,
)
from engine.domain.scoring import word_error_rate
from engine.quality.consensus import AnswerIn, merge

# A text answer within 5 % WER of the truth counts as right (as gold scoring does).
_RIGHT_SCORE = 0.95


def _boxes(payload: Mapping[str, Any]) -> list[Box]:
    return [
        Box(b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"], b["label"])
        for b in payload.get("boxes", [])
    ]


def _is_right(kind: JobKind, answer: Mapping[str, Any], truth: Mapping[str, Any]) -> bool:
    """Whether a result matches the truth: the same label; every box matched one-to-one at
    IoU >= 0.5 with its label; a text within 5 % WER."""
    if kind is JobKind.IMAGE_CLASSIFICATION:
        return answer.get("label") == truth.get("label")
    if kind is JobKind.IMAGE_BOXES:
        matched, drawn, true = box_match_counts(_boxes(answer), _boxes(truth))
        return matched == drawn == true
    return score_answer(kind, dict(answer), dict(truth)).score >= _RIGHT_SCORE


def _delivered(
    kind: JobKind,
    tasks: Sequence[TaskRow],
    results: Mapping[str, TaskResultRow],
    reviews: Mapping[str, ReviewRow],
    source_names: Mapping[str, str],
) -> list[DeliveredTask]:
    out = []
    for t in tasks:
        result = results.get(t.id)
        if result is None or result.final is None:
            continue
        review = reviews.get(t.id)
        truth = review.payload if review is not None else None
        consensus = result.consensus
        text = str(result.final.get("text", ""))
        out.append(
            DeliveredTask(
                task_id=t.id,
                source=source_names.get(t.source_id, t.source_id),
                agreement=min(1.0, max(0.0, result.agreement)),
                reviewed=truth is not None,
                consensus_correct=None if truth is None else _is_right(kind, consensus, truth),
                seq=t.seq,
                start_seconds=t.start_seconds,
                end_seconds=t.end_seconds,
                words=len(text.split()),
                consensus_wer=(
                    word_error_rate(str(truth.get("text", "")), str(consensus.get("text", "")))
                    if truth is not None
                    and kind is JobKind.TRANSCRIPTION
                    and str(truth.get("text", "")).strip()
                    else None
                ),
                box_counts=(
                    box_match_counts(_boxes(consensus), _boxes(truth))
                    if truth is not None and kind is JobKind.IMAGE_BOXES
                    else None
                ),
            )
        )
    return out


def _gold_checks(
    kind: JobKind,
    gold_tasks: Sequence[TaskRow],
    answers: Sequence[AnswerRow],
    drafts: Mapping[str, DraftRow],
) -> list[CheckedTask]:
    """The workers' consensus on each gold task against its known answer: what agreement
    level goes with a right result, for the unreviewed ones."""
    known = {t.id: t.gold_answer for t in gold_tasks if t.gold_answer is not None}
    voters = [AnswerIn(a.task_id, a.worker_id, a.payload) for a in answers if a.task_id in known]
    if not voters:
        return []
    merged = merge(kind, voters, {}, {t: d.text for t, d in drafts.items() if t in known}, {})
    return [
        CheckedTask(min(1.0, max(0.0, m.agreement)), _is_right(kind, m.payload, known[task_id]))
        for task_id, m in sorted(merged.items())
    ]


def _worker_activity(
    answers: Sequence[AnswerRow], scores: Sequence[AnswerScoreRow], handles: Mapping[str, str]
) -> list[WorkerActivity]:
    """Per worker: agreement with what was delivered (the reviewed answer where there is one,
    else the consensus; each answer once) and the mean score against known truth."""
    by_answer: dict[int, dict[str, AnswerScoreRow]] = {}
    for s in scores:
        by_answer.setdefault(s.answer_id, {})[s.against] = s
    against_final: dict[str, list[float]] = {}
    against_truth: dict[str, list[float]] = {}
    for refs in by_answer.values():
        final = refs.get("review") or refs.get("consensus")
        truth = refs.get("review") or refs.get("gold")
        if final is not None:
            against_final.setdefault(final.worker_id, []).append(final.score)
        if truth is not None:
            against_truth.setdefault(truth.worker_id, []).append(truth.score)
    counts: dict[str, int] = {}
    for a in answers:
        counts[a.worker_id] = counts.get(a.worker_id, 0) + 1
    out = []
    for worker_id, n in counts.items():
        final_scores = against_final.get(worker_id, [])
        truth_scores = against_truth.get(worker_id, [])
        out.append(
            WorkerActivity(
                handles.get(worker_id, worker_id),
                n,
                sum(final_scores) / len(final_scores) if final_scores else None,
                sum(truth_scores) / len(truth_scores) if truth_scores else None,
                len(truth_scores),
            )
        )
    return sorted(out, key=lambda w: w.worker)


def _job_rows(
    session: Session | None, job: JobRow
) -> tuple[str | None, list[SourceMediaRow], list[TaskRow]]:
    """The client's name, the job's source files and its gold tasks."""
    if session is None:
        return None, [], []
    client = session.get(ClientRow, job.client_id)
    sources = list(
        session.scalars(
            select(SourceMediaRow)
            .where(SourceMediaRow.job_id == job.id)
            .order_by(SourceMediaRow.seq)
        )
    )
    gold = list(session.scalars(select(TaskRow).where(TaskRow.job_id == job.id, TaskRow.is_gold)))
    return (client.name if client else None), sources, gold


def _turnaround(created: datetime, delivered: datetime) -> str:
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    minutes = max(0, int((delivered - created).total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    return (f"{days} d " if days else "") + f"{hours} h {mins:02d} min"


def quality_report(
    job: JobRow,
    tasks: Sequence[TaskRow],
    results: Mapping[str, TaskResultRow],
    answers: Sequence[AnswerRow],
    scores: Sequence[AnswerScoreRow],
    reviews: Sequence[ReviewRow],
    drafts: Mapping[str, DraftRow],
    handles: Mapping[str, str],
    failed_sources: Sequence[str],
) -> dict[str, Any]:
    kind = JobKind(job.kind)
    client_name, source_rows, gold_tasks = _job_rows(object_session(job), job)
    gold_names = {t.source_id for t in gold_tasks}
    delivered_sources = {
        s.id: s.filename for s in source_rows if s.id not in gold_names and s.status != "failed"
    }
    gold: dict[str, list[int]] = {}
    for s in scores:
        if s.against == "gold":
            tally = gold.setdefault(handles.get(s.worker_id, s.worker_id), [0, 0])
            tally[0] += 1 if s.score >= _RIGHT_SCORE else 0
            tally[1] += 1
    regular = [t for t in tasks if not t.is_gold]
    late = [
        LateTask(t.id, results[t.id].review_reason or "not final", results[t.id].status)
        for t in regular
        if t.id in results and results[t.id].final is None
    ] + [LateTask(t.id, t.failure_reason or "task failed", "failed") for t in regular
         if t.status == "failed"]  # fmt: skip
    revisions = [
        DraftRevision(t.id, drafts[t.id].text, str(results[t.id].final.get("text", "")))  # type: ignore[union-attr]
        for t in regular
        if t.id in drafts and t.id in results and results[t.id].final is not None
    ]
    latest_review = {r.task_id: r for r in sorted(reviews, key=lambda r: r.id or 0)}
    delivered_at = datetime.now(UTC)
    spec = job.spec
    return build_quality_report(
        task_agreements={t: r.agreement for t, r in results.items() if r.final is not None},
        gold=[GoldTally(w, c, n) for w, (c, n) in sorted(gold.items())],
        reviews=[
            ReviewedTask(
                r.task_id,
                r.decision == "corrected",
                str(results[r.task_id].consensus.get("text"))
                if "text" in results[r.task_id].consensus
                else None,
                str(r.payload.get("text")) if "text" in r.payload else None,
            )  # fmt: skip
            for r in latest_review.values()
            if r.task_id in results
        ],
        draft_revisions=revisions,
        workers=_worker_activity(answers, scores, handles),
        late_tasks=late,
        deadline=spec.get("deadline"),
        delivered=_delivered(kind, regular, results, latest_review, delivered_sources),
        gold_checks=_gold_checks(kind, gold_tasks, answers, drafts),
        sources=[
            SourceFile(s.filename, s.media_type, s.duration_seconds)
            for s in source_rows
            if s.id in delivered_sources
        ],
        kind=kind.value,
        job={
            "id": job.id,
            "kind": job.kind,
            "client": client_name,
            "submitted": job.created_at.isoformat(timespec="minutes"),
            "delivered": delivered_at.isoformat(timespec="minutes"),
            "turnaround": _turnaround(job.created_at, delivered_at),
            "files": len(delivered_sources),
            "tasks": len(regular),
            "answers_used": len(answers),
            "cost": None,  # no pay rates in the engine yet
            "failed_sources": list(failed_sources),
        },  # fmt: skip
    )
