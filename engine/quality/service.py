"""Scoring, consensus, worker skill and QA review (the ``score`` stage's use cases).

When every answer slot of a job is filled (or its deadline passed), ``score_job`` merges each
task's answers (skill-weighted), scores every answer against gold or the consensus, updates
worker skills and tiers, and sends low-agreement results plus a random sample to review. A
reviewer's accepted or corrected result is final and re-scores the workers who answered.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from engine.db.models import (
    AnswerRow,
    AnswerScoreRow,
    AssignmentRow,
    LeaseRow,
    ReviewRow,
    TaskResultRow,
)
from engine.domain.answer_scoring import score_answer
from engine.domain.job_stage import JobKind, JobStage
from engine.domain.lease_rules import (
    SlotState,
    SlotView,
    WorkerTier,
    as_utc,
    lease_expiry,
    slot_is_free,
)
from engine.domain.review_selection import sample_draw, select_for_review
from engine.domain.scoring import word_diff
from engine.domain.worker_skill import TierPolicy, decide_tier, estimate_skill
from engine.drafting.repository import DraftRepository
from engine.jobs.repository import JobRepository
from engine.jobs.service import move_job_to
from engine.quality.consensus import AnswerIn, merge
from engine.quality.repository import QualityRepository
from engine.settings import Settings
from engine.work.service import (
    InvalidAnswer,
    LeaseNotFound,
    SubmitRefused,
    WorkError,
    check_answer,
)
from engine.workforce.repository import WorkerRepository
from schemas.jobs import JobSpec


@dataclass(frozen=True)
class QualitySettings:
    review_threshold: float = 0.75
    review_sample_rate: float = 0.05
    lease_seconds: float = 900.0
    policy: TierPolicy = TierPolicy()

    @classmethod
    def from_settings(cls, s: Settings) -> QualitySettings:
        return cls(
            s.review_agreement_threshold,
            s.review_sample_rate,
            float(s.lease_seconds),
            TierPolicy(
                s.skill_prior_mean,
                s.skill_prior_strength,
                s.skill_qualify_lower,
                s.skill_qualify_min_answers,
                s.skill_reviewer_lower,
                s.skill_reviewer_min_answers,
                s.skill_pause_upper,
                s.skill_pause_min_answers,
            ),  # fmt: skip
        )


def _now() -> datetime:
    return datetime.now(UTC)


def _deadline_passed(spec: JobSpec, now: datetime) -> bool:
    return spec.deadline is not None and spec.deadline <= now


def ready_to_score(session: Session, job_id: str) -> bool:
    job = JobRepository(session).get(job_id)
    if job is None or job.stage != JobStage.LABELING.value:
        return False
    if not QualityRepository(session).has_open_answer_slots(job_id):
        return True
    return _deadline_passed(JobSpec.model_validate(job.spec), _now())


def _score_row(answer: AnswerRow, kind: JobKind, reference: dict[str, Any], against: str):  # type: ignore[no-untyped-def]
    s = score_answer(kind, answer.payload, reference)
    return AnswerScoreRow(
        answer_id=answer.id, worker_id=answer.worker_id, job_id=answer.job_id,
        task_id=answer.task_id, against=against, score=s.score, wer=s.wer, cer=s.cer,
        correct=s.correct, scored_at=_now(),
    )  # fmt: skip


def score_job(
    sessions: sessionmaker[Session],
    job_id: str,
    settings: QualitySettings,
    draw: Callable[[str], float] | None = None,
) -> JobStage | None:
    """Consensus, scores, skills and review selection, in one transaction (safe to rerun)."""
    with sessions.begin() as session:
        jobs = JobRepository(session)
        job = jobs.get(job_id, for_update=True)
        if job is None:
            return None
        if job.stage == JobStage.LABELING.value:
            if not ready_to_score(session, job_id):
                return JobStage.LABELING
            move_job_to(session, job, JobStage.SCORING)
        elif job.stage != JobStage.SCORING.value:
            return JobStage(job.stage)
        kind = JobKind(job.kind)
        repo = QualityRepository(session)
        repo.clear_scores(job_id)
        tasks = {t.id: t for t in repo.tasks(job_id)}
        answers = [a for a in repo.answers(job_id) if a.task_id in tasks]
        workers = sorted({a.worker_id for a in answers})
        # Gold first: it measures this job's workers before their votes are weighed.
        for a in answers:
            gold = tasks[a.task_id].gold_answer
            if a.is_gold and gold is not None:
                repo.put_score(_score_row(a, kind, gold, "gold"))
        session.flush()
        gold_scores = repo.worker_scores(workers)
        weights = {
            w: estimate_skill(s, settings.policy).consensus_weight for w, s in gold_scores.items()
        }
        regular = [a for a in answers if not tasks[a.task_id].is_gold]
        gold_labels = {
            t.id: str(t.gold_answer["label"])
            for t in tasks.values()
            if t.is_gold and t.gold_answer and "label" in t.gold_answer
        }
        merged = merge(
            kind,
            [AnswerIn(a.task_id, a.worker_id, a.payload) for a in answers
             if kind is JobKind.IMAGE_CLASSIFICATION or not tasks[a.task_id].is_gold],
            weights,
            {t: d.text for t, d in DraftRepository(session).latest_per_task(job_id).items()}
            if kind is JobKind.TRANSCRIPTION
            else {},
            gold_labels,
        )  # fmt: skip
        for a in regular:
            if a.task_id in merged:
                repo.put_score(_score_row(a, kind, merged[a.task_id].payload, "consensus"))
        regular_tasks = [t for t in tasks.values() if not t.is_gold]
        agreements = {t.id: merged[t.id].agreement for t in regular_tasks if t.id in merged}
        to_review = select_for_review(
            agreements,
            settings.review_threshold,
            settings.review_sample_rate,
            draw or (lambda task_id: sample_draw(task_id, job_id)),
        )
        for t in regular_tasks:
            m = merged.get(t.id)
            if m is None:
                repo.put_result(TaskResultRow(
                    task_id=t.id, job_id=job_id, consensus={}, final=None, agreement=0.0,
                    detail={}, answers=0, status="unanswered",
                    review_reason="no answer arrived before the deadline",
                ))  # fmt: skip
                continue
            reason = to_review.get(t.id)
            repo.put_result(TaskResultRow(
                task_id=t.id, job_id=job_id, consensus=m.payload,
                final=None if reason else m.payload, agreement=m.agreement, detail=m.detail,
                answers=m.answers, status="in_review" if reason else "final",
                review_reason=reason, final_source=None if reason else "consensus",
            ))  # fmt: skip
            if reason:
                repo.add_review_slot(job_id, t.id)
        session.flush()
        _update_tiers(session, repo, workers, settings.policy)
        if to_review:
            detail = f"{len(to_review)} of {len(regular_tasks)} results go to QA review"
            move_job_to(session, job, JobStage.REVIEWING, detail)
            return JobStage.REVIEWING
        move_job_to(session, job, JobStage.ASSEMBLING,
                    f"{len(regular_tasks)} results final without review")  # fmt: skip
        return JobStage.ASSEMBLING


def _update_tiers(
    session: Session, repo: QualityRepository, workers: list[str], policy: TierPolicy
) -> None:
    people = WorkerRepository(session)
    for worker_id, scores in repo.worker_scores(workers).items():
        worker = people.get(worker_id)
        if worker is None:
            continue
        decision = decide_tier(WorkerTier(worker.tier), estimate_skill(scores, policy), policy)
        worker.tier = decision.tier.value
        if decision.paused:
            worker.status = "paused"


# -- review ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewLease:
    lease_id: str
    task_id: str
    job_id: str
    expires_at: datetime
    consensus: dict[str, Any]
    agreement: float
    reason: str | None
    answers: list[dict[str, Any]]


def lease_review(
    session: Session, reviewer_id: str, settings: QualitySettings, job_id: str | None = None
) -> ReviewLease | None:
    reviewer = WorkerRepository(session).get(reviewer_id, for_update=True)
    if reviewer is None or reviewer.tier != WorkerTier.REVIEWER.value:
        raise LeaseNotFound("only reviewers can take review tasks")
    repo = QualityRepository(session)
    now = _now()
    slot = repo.find_review_slot(reviewer_id, now, job_id)
    if slot is None:
        return None
    lease_id, expires = _take_review_slot(session, slot, reviewer_id, "api", settings, now)
    result = repo.result(slot.task_id)
    assert result is not None
    return ReviewLease(
        lease_id, slot.task_id, slot.job_id, expires, result.consensus, result.agreement,
        result.review_reason,
        [{"answer": a.payload} for a in repo.answers_of_task(slot.task_id)],
    )  # fmt: skip


def review_lease_for_task(
    session: Session, reviewer_id: str, task_id: str, settings: QualitySettings, channel: str
) -> str:
    """The review lease a reviewer's decision made outside the review API (in the Label Studio
    review project) is filed under: theirs if they hold it, else the free review slot."""
    reviewer = WorkerRepository(session).get(reviewer_id, for_update=True)
    if reviewer is None or reviewer.tier != WorkerTier.REVIEWER.value:
        raise SubmitRefused("only reviewers can review results")
    slot = QualityRepository(session).review_slot_of(task_id)
    if slot is None:
        raise SubmitRefused("this result is not waiting for review")
    now = _now()
    if slot.state == "leased" and slot.worker_id == reviewer_id and slot.lease_id:
        return slot.lease_id
    view = SlotView(SlotState(slot.state), slot.lease_id, as_utc(slot.expires_at))
    if not slot_is_free(view, now):
        raise SubmitRefused("another reviewer has this result")
    lease_id, _expires = _take_review_slot(session, slot, reviewer_id, channel, settings, now)
    session.flush()
    return lease_id


def _take_review_slot(
    session: Session,
    slot: AssignmentRow,
    reviewer_id: str,
    channel: str,
    settings: QualitySettings,
    now: datetime,
) -> tuple[str, datetime]:
    lease_id = str(uuid.uuid4())
    expires = lease_expiry(now, settings.lease_seconds)
    slot.state, slot.worker_id, slot.lease_id, slot.expires_at = (
        "leased", reviewer_id, lease_id, expires,
    )  # fmt: skip
    session.add(LeaseRow(id=lease_id, assignment_id=slot.id, task_id=slot.task_id,
                         worker_id=reviewer_id, channel=channel, created_at=now,
                         expires_at=expires))  # fmt: skip
    return lease_id, expires


def submit_review(
    session: Session,
    reviewer_id: str,
    lease_id: str,
    decision: str,
    corrected: dict[str, Any] | None,
    *,
    client_review_id: str | None = None,
    time_spent_seconds: float | None = None,
    source: str = "api",
) -> int:
    """Accept the consensus or replace it; either way the result is final and the task's
    answers are re-scored against it. Returns the review id; idempotent by client id."""
    repo = QualityRepository(session)
    if client_review_id:
        earlier = repo.review_by_client_id(reviewer_id, client_review_id)
        if earlier is not None:
            return earlier.id
    lease = session.get(LeaseRow, lease_id, with_for_update=True)
    if lease is None or lease.worker_id != reviewer_id:
        raise LeaseNotFound(f"no review lease {lease_id} for this reviewer")
    if decision not in ("accept", "correct"):
        raise InvalidAnswer("decision must be 'accept' or 'correct'")
    result = repo.result(lease.task_id, for_update=True)
    if result is None or result.status != "in_review":
        raise SubmitRefused("this result is not waiting for review any more")
    if decision == "correct":
        if corrected is None:
            raise InvalidAnswer("a correction needs 'answer'")
        final = check_answer(session, lease.task_id, corrected)
    else:
        final = result.consensus
    review = ReviewRow(
        task_id=lease.task_id, job_id=result.job_id, reviewer_id=reviewer_id,
        decision="accepted" if final == result.consensus else "corrected", payload=final,
        source=source, client_review_id=client_review_id,
        time_spent_seconds=time_spent_seconds,
    )  # fmt: skip
    repo.add_review(review)
    result.final, result.status, result.final_source = final, "final", "review"
    lease.outcome, lease.ended_at = "submitted", _now()
    slot = repo.review_slot_of(lease.task_id)
    if slot is not None:
        slot.state, slot.expires_at = "answered", None
    job = JobRepository(session).get(result.job_id)
    assert job is not None
    kind = JobKind(job.kind)
    for answer in repo.answers_of_task(lease.task_id):
        repo.put_score(_score_row(answer, kind, final, "review"))
    session.flush()
    return review.id


def finish_review(
    sessions: sessionmaker[Session], job_id: str, policy: TierPolicy | None = None
) -> JobStage | None:
    with sessions.begin() as session:
        job = JobRepository(session).get(job_id, for_update=True)
        if job is None:
            return None
        if job.stage != JobStage.REVIEWING.value:
            return JobStage(job.stage)
        repo = QualityRepository(session)
        if repo.count_in_review(job_id):
            return JobStage.REVIEWING
        workers = sorted({a.worker_id for a in repo.answers(job_id)})
        _update_tiers(session, repo, workers, policy or TierPolicy())
        move_job_to(session, job, JobStage.ASSEMBLING, "every reviewed result is final")
        return JobStage.ASSEMBLING


# -- feedback ----------------------------------------------------------------------------------


def feedback_for_worker(session: Session, worker_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """Each scored answer with its score and, once the task's result is final, the word-level
    diff against it (text) or the expected answer; gold tasks show what was expected."""
    repo = QualityRepository(session)
    items = []
    for score in repo.scores_of_worker(worker_id, limit):
        answer = session.get(AnswerRow, score.answer_id)
        if answer is None:
            continue
        if score.against == "gold":
            from engine.db.models import TaskRow

            t = session.get(TaskRow, answer.task_id)
            expected = t.gold_answer if t else None
        else:
            result = repo.result(answer.task_id)
            expected = result.final if result and result.status == "final" else None
        item: dict[str, Any] = {
            "answer_id": answer.id, "task_id": answer.task_id, "job_id": answer.job_id,
            "submitted_at": answer.created_at.isoformat(), "scored_against": score.against,
            "score": round(score.score, 4), "wer": score.wer, "cer": score.cer,
            "correct": score.correct, "your_answer": answer.payload, "expected": expected,
        }  # fmt: skip
        if expected is not None and "text" in expected:
            item["diff"] = [
                {
                    "op": e.operation,
                    "expected": " ".join(e.reference_words),
                    "yours": " ".join(e.hypothesis_words),
                }  # fmt: skip
                for e in word_diff(expected["text"], answer.payload.get("text", ""))
            ]
        items.append(item)
    return items


__all__ = [
    "QualitySettings", "ReviewLease", "WorkError", "feedback_for_worker", "finish_review",
    "lease_review", "ready_to_score", "score_job", "submit_review",
]  # fmt: skip
