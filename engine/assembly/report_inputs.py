"""Collect the quality report's inputs from a job's rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.db.models import (
    AnswerRow,
    AnswerScoreRow,
    DraftRow,
    JobRow,
    ReviewRow,
    TaskResultRow,
    TaskRow,
)
from engine.domain.quality_report import (
    DraftRevision,
    GoldTally,
    LateTask,
    ReviewedTask,
    WorkerActivity,
    build_quality_report,
)


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
    gold: dict[str, list[int]] = {}
    against_final: dict[str, list[float]] = {}
    for s in scores:
        who = handles.get(s.worker_id, s.worker_id)
        if s.against == "gold":
            tally = gold.setdefault(who, [0, 0])
            tally[0] += 1 if s.score >= 0.95 else 0
            tally[1] += 1
        else:
            against_final.setdefault(who, []).append(s.score)
    counts: dict[str, int] = {}
    for a in answers:
        who = handles.get(a.worker_id, a.worker_id)
        counts[who] = counts.get(who, 0) + 1
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
            for r in reviews
            if r.task_id in results
        ],
        draft_revisions=revisions,
        workers=[
            WorkerActivity(
                w,
                n,
                sum(against_final[w]) / len(against_final[w]) if against_final.get(w) else None,
            )
            for w, n in sorted(counts.items())
        ],  # fmt: skip
        late_tasks=late,
        deadline=spec.get("deadline"),
        job={
            "id": job.id,
            "kind": job.kind,
            "tasks": len(regular),
            "failed_sources": list(failed_sources),
        },  # fmt: skip
    )
