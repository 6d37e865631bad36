"""The score stage: when every answer slot of a job is filled (or its deadline passed),
``score_job`` scores gold answers, merges each task's answers (skill-weighted), scores the
rest against the consensus, writes the results, picks results for QA review and updates
worker skills and tiers, in the caller's unit of work (safe to rerun).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.db.models import AnswerRow, AnswerScoreRow, JobRow, TaskResultRow, TaskRow
from engine.domain.answer_scoring import score_answer
from engine.domain.job_stage import JobKind, JobStage
from engine.domain.lease_rules import WorkerStatus, WorkerTier
from engine.domain.result_states import FinalSource, ResultStatus, ScoreReference, scored_status
from engine.domain.review_selection import sample_draw, select_for_review
from engine.domain.worker_skill import TierPolicy, decide_tier, estimate_skill
from engine.earnings.service import earn_for_final_tasks
from engine.jobs.service import move_job_to
from engine.quality.consensus import AnswerIn, MergedResult, merge
from engine.quality.settings import QualitySettings
from engine.unit_of_work import UnitOfWork
from schemas.jobs import JobSpec

ReviewDraw = Callable[[str], float]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class JobAnswers:
    """A job's live tasks and the answers to them, as scoring reads them."""

    job_id: str
    kind: JobKind
    tasks: Mapping[str, TaskRow]
    answers: Sequence[AnswerRow]

    @property
    def workers(self) -> list[str]:
        return sorted({a.worker_id for a in self.answers})

    @property
    def regular_tasks(self) -> list[TaskRow]:
        return [t for t in self.tasks.values() if not t.is_gold]

    def on_gold(self, answer: AnswerRow) -> bool:
        return self.tasks[answer.task_id].is_gold

    def gold_labels(self) -> dict[str, str]:
        return {
            t.id: str(t.gold_answer["label"])
            for t in self.tasks.values()
            if t.is_gold and t.gold_answer and "label" in t.gold_answer
        }


def score_row(
    answer: AnswerRow, kind: JobKind, reference: dict[str, Any], against: ScoreReference
) -> AnswerScoreRow:
    s = score_answer(kind, answer.payload, reference)
    return AnswerScoreRow(
        answer_id=answer.id, worker_id=answer.worker_id, job_id=answer.job_id,
        task_id=answer.task_id, against=against.value, score=s.score, wer=s.wer, cer=s.cer,
        correct=s.correct, scored_at=_now(),
    )  # fmt: skip


# -- when -----------------------------------------------------------------------------------


def _deadline_passed(spec: JobSpec, now: datetime) -> bool:
    return spec.deadline is not None and spec.deadline <= now


def _ready(uow: UnitOfWork, job: JobRow) -> bool:
    if job.stage != JobStage.LABELING.value:
        return False
    if not uow.quality.has_open_answer_slots(job.id):
        return True
    return _deadline_passed(JobSpec.model_validate(job.spec), _now())


def ready_to_score(uow: UnitOfWork, job_id: str) -> bool:
    """In labeling, and every answer slot is answered or the deadline passed."""
    job = uow.jobs.get(job_id)
    return job is not None and _ready(uow, job)


# -- the steps ------------------------------------------------------------------------------


def load_answers(uow: UnitOfWork, job: JobRow) -> JobAnswers:
    tasks = {t.id: t for t in uow.quality.tasks(job.id)}
    answers = [a for a in uow.quality.answers(job.id) if a.task_id in tasks]
    return JobAnswers(job.id, JobKind(job.kind), tasks, answers)


def score_gold(uow: UnitOfWork, job: JobAnswers) -> None:
    """Gold first: it measures this job's workers before their votes are weighed."""
    for a in job.answers:
        gold = job.tasks[a.task_id].gold_answer
        if a.is_gold and gold is not None:
            uow.quality.put_score(score_row(a, job.kind, gold, ScoreReference.GOLD))


def merge_answers(uow: UnitOfWork, job: JobAnswers, policy: TierPolicy) -> dict[str, MergedResult]:
    """One result per task, each worker's vote weighed by its skill (gold scores included);
    the ASR draft votes on transcripts, and gold labels anchor classification."""
    weights = {
        w: estimate_skill(s, policy).consensus_weight
        for w, s in uow.quality.worker_scores(job.workers).items()
    }
    # Classification merges over the whole job, so gold answers are evidence there.
    voters = [
        AnswerIn(a.task_id, a.worker_id, a.payload)
        for a in job.answers
        if job.kind is JobKind.IMAGE_CLASSIFICATION or not job.on_gold(a)
    ]
    drafts = (
        {t: d.text for t, d in uow.drafts.latest_per_task(job.job_id).items()}
        if job.kind is JobKind.TRANSCRIPTION
        else {}
    )
    return merge(job.kind, voters, weights, drafts, job.gold_labels())


def score_against_consensus(
    uow: UnitOfWork, job: JobAnswers, merged: Mapping[str, MergedResult]
) -> None:
    for a in job.answers:
        if not job.on_gold(a) and a.task_id in merged:
            reference = merged[a.task_id].payload
            uow.quality.put_score(score_row(a, job.kind, reference, ScoreReference.CONSENSUS))


def choose_reviews(
    job: JobAnswers,
    merged: Mapping[str, MergedResult],
    settings: QualitySettings,
    draw: ReviewDraw,
) -> dict[str, str]:
    """Results under the agreement threshold, plus a random sample: task id -> reason."""
    agreements = {t.id: merged[t.id].agreement for t in job.regular_tasks if t.id in merged}
    return select_for_review(
        agreements, settings.review_threshold, settings.review_sample_rate, draw
    )


def result_row(
    job_id: str, task_id: str, merged: MergedResult | None, review_reason: str | None
) -> TaskResultRow:
    if merged is None:
        return TaskResultRow(
            task_id=task_id, job_id=job_id, consensus={}, final=None, agreement=0.0, detail={},
            answers=0, status=ResultStatus.UNANSWERED.value,
            review_reason="no answer arrived before the deadline",
        )  # fmt: skip
    status = scored_status(answered=True, to_review=review_reason is not None)
    final = status is ResultStatus.FINAL
    return TaskResultRow(
        task_id=task_id, job_id=job_id, consensus=merged.payload,
        final=merged.payload if final else None, agreement=merged.agreement,
        detail=merged.detail, answers=merged.answers, status=status.value,
        review_reason=review_reason, final_source=FinalSource.CONSENSUS.value if final else None,
    )  # fmt: skip


def write_results(
    uow: UnitOfWork,
    job: JobAnswers,
    merged: Mapping[str, MergedResult],
    to_review: Mapping[str, str],
) -> None:
    """Scoring writes each regular task's result afresh; one in review gets a review slot.
    Answers of final results (and of gold tasks) earn in the same transaction."""
    final = [t.id for t in job.tasks.values() if t.is_gold]
    for task in job.regular_tasks:
        row = result_row(job.job_id, task.id, merged.get(task.id), to_review.get(task.id))
        uow.quality.put_result(row)
        if row.status == ResultStatus.IN_REVIEW.value:
            uow.quality.add_review_slot(job.job_id, task.id)
        elif row.status == ResultStatus.FINAL.value:
            final.append(task.id)
    earn_for_final_tasks(uow, job.job_id, final)


def update_tiers(uow: UnitOfWork, workers: Sequence[str], policy: TierPolicy) -> None:
    """Each worker's tier (and pause) from all its scores so far."""
    for worker_id, scores in uow.quality.worker_scores(workers).items():
        worker = uow.workers.get(worker_id)
        if worker is None:
            continue
        decision = decide_tier(WorkerTier(worker.tier), estimate_skill(scores, policy), policy)
        worker.tier = decision.tier.value
        if decision.paused:
            worker.status = WorkerStatus.PAUSED.value


# -- the use case ---------------------------------------------------------------------------


def score_job(
    uow: UnitOfWork, job_id: str, settings: QualitySettings, draw: ReviewDraw | None = None
) -> JobStage | None:
    """Score a job whose answers are in; returns the stage it is in afterwards. Entering
    ASSEMBLING or REVIEWING sends the next step (move_job_to routes it)."""
    job = uow.jobs.get(job_id, for_update=True)
    if job is None:
        return None
    if job.stage == JobStage.LABELING.value:
        if not _ready(uow, job):
            return JobStage.LABELING
        move_job_to(uow, job, JobStage.SCORING)
    elif job.stage != JobStage.SCORING.value:
        return JobStage(job.stage)
    answers = load_answers(uow, job)
    uow.quality.clear_scores(job_id)
    score_gold(uow, answers)
    merged = merge_answers(uow, answers, settings.policy)
    score_against_consensus(uow, answers, merged)
    to_review = choose_reviews(
        answers, merged, settings, draw or (lambda task_id: sample_draw(task_id, job_id))
    )
    write_results(uow, answers, merged, to_review)
    update_tiers(uow, answers.workers, settings.policy)
    total = len(answers.regular_tasks)
    if to_review:
        move_job_to(uow, job, JobStage.REVIEWING,
                    f"{len(to_review)} of {total} results go to QA review")  # fmt: skip
        return JobStage.REVIEWING
    move_job_to(uow, job, JobStage.ASSEMBLING, f"{total} results final without review")
    return JobStage.ASSEMBLING
