"""QA review: reviewers lease results in review, accept or correct them; the job moves on
when none is left. Review leases are leased, run out and are filled by the same code as work
leases (engine/work/leasing.py), under the review rule (``REVIEW_LEASE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.db.models import ReviewRow, WorkerRow
from engine.domain.job_stage import JobKind, JobStage
from engine.domain.lease_rules import (
    REVIEW_LEASE,
    WorkerTier,
    as_utc,
    slot_is_free,
    submit_keeps_own_slot,
)
from engine.domain.result_states import (
    FinalSource,
    ResultStatus,
    ReviewDecision,
    ScoreReference,
    check_result_transition,
    review_outcome,
)
from engine.domain.work_states import SlotPurpose, SlotState, lease_outcome, submit_refusal
from engine.domain.worker_skill import TierPolicy
from engine.earnings.service import earn_for_review
from engine.jobs.service import move_job_to
from engine.quality.scoring import score_row, update_tiers
from engine.quality.settings import QualitySettings
from engine.quality.triggers import after_review
from engine.unit_of_work import UnitOfWork
from engine.work import leasing
from engine.work.service import (
    InvalidAnswer,
    LeaseNotFound,
    NotAReviewer,
    SubmitRefused,
    WorkError,
    check_answer,
    spec_of,
)


def _now() -> datetime:
    return datetime.now(UTC)


def _reviewer(
    uow: UnitOfWork, reviewer_id: str, refusal: type[WorkError], message: str
) -> WorkerRow:
    reviewer = uow.workers.get(reviewer_id, for_update=True)
    if reviewer is None or reviewer.tier != WorkerTier.REVIEWER.value:
        raise refusal(message)
    return reviewer


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
    kind: str
    media_key: str
    labels: list[str]


def lease_review(
    uow: UnitOfWork, reviewer_id: str, settings: QualitySettings, job_id: str | None = None
) -> ReviewLease | None:
    """Lease the next result waiting for review (never one of the reviewer's own tasks)."""
    _reviewer(uow, reviewer_id, NotAReviewer, "only reviewers can take review tasks")
    now = _now()
    taken = leasing.find_and_take(
        uow, REVIEW_LEASE, reviewer_id, "api", now, settings.lease_seconds, job_id=job_id
    )
    if taken is None:
        return None
    slot, lease = taken
    result = uow.quality.result(slot.task_id)
    task = uow.work.task(slot.task_id)
    job = uow.jobs.get(slot.job_id)
    assert result is not None and task is not None and job is not None
    return ReviewLease(
        lease.id, slot.task_id, slot.job_id, as_utc(lease.expires_at) or now, result.consensus,
        result.agreement, result.review_reason,
        [{"answer": a.payload} for a in uow.quality.answers_of_task(slot.task_id)],
        job.kind, task.object_key, spec_of(uow, job.id).labels,
    )  # fmt: skip


def review_lease_for_task(
    uow: UnitOfWork, reviewer_id: str, task_id: str, settings: QualitySettings, channel: str
) -> str:
    """The review lease a reviewer's decision made outside the review API (in the Label Studio
    review project) is filed under: theirs if they hold it, else the free review slot."""
    _reviewer(uow, reviewer_id, SubmitRefused, "only reviewers can review results")
    slot = uow.quality.review_slot_of(task_id)
    if slot is None:
        raise SubmitRefused("this result is not waiting for review")
    if slot.state == SlotState.LEASED.value and slot.worker_id == reviewer_id and slot.lease_id:
        return slot.lease_id
    now = _now()
    lease = (
        leasing.take(uow, slot, reviewer_id, channel, now, settings.lease_seconds)
        if slot_is_free(leasing.slot_view(slot), now)
        else None
    )
    if lease is None:
        raise SubmitRefused("another reviewer has this result")
    return lease.id


def submit_review(
    uow: UnitOfWork,
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
    if client_review_id:
        earlier = uow.quality.review_by_client_id(reviewer_id, client_review_id)
        if earlier is not None:
            return earlier.id
    held = uow.work.lease_and_slot(lease_id)
    # Only a review lease finalizes a result: never a worker's own answer lease.
    if held is None or held[0].worker_id != reviewer_id or held[1].purpose != SlotPurpose.REVIEW:
        raise LeaseNotFound(f"no review lease {lease_id} for this reviewer")
    lease, slot = held
    _reviewer(uow, reviewer_id, NotAReviewer, "only reviewers can review results")
    wanted = _decision(decision)
    refusal = submit_refusal(lease_outcome(lease.outcome))
    if refusal is not None:
        raise SubmitRefused(refusal)
    result = uow.quality.result(lease.task_id, for_update=True)
    if result is None or result.status != ResultStatus.IN_REVIEW.value:
        raise SubmitRefused("this result is not waiting for review any more")
    final = _final_answer(uow, lease.task_id, wanted, corrected, result.consensus)
    review = ReviewRow(
        task_id=lease.task_id, job_id=result.job_id, reviewer_id=reviewer_id,
        decision=review_outcome(final, result.consensus).value, payload=final, source=source,
        client_review_id=client_review_id, time_spent_seconds=time_spent_seconds,
    )  # fmt: skip
    uow.quality.add_review(review)
    check_result_transition(ResultStatus.IN_REVIEW, ResultStatus.FINAL)
    result.final, result.status = final, ResultStatus.FINAL.value
    result.final_source = FinalSource.REVIEW.value
    now = _now()
    if not submit_keeps_own_slot(leasing.slot_view(slot), lease.id):
        # The lease ran out; the first decision on a result in review still counts.
        leasing.take_for_late_submit(uow, slot, lease, now, own_slot=True)
    leasing.fill(slot, lease, now, answer_id=None)
    _rescore(uow, result.job_id, lease.task_id, final)
    earn_for_review(uow, result.job_id, lease.task_id, review.id, reviewer_id)
    return review.id


def _decision(decision: str) -> ReviewDecision:
    try:
        return ReviewDecision(decision)
    except ValueError:
        raise InvalidAnswer("decision must be 'accept' or 'correct'") from None


def _final_answer(
    uow: UnitOfWork,
    task_id: str,
    wanted: ReviewDecision,
    corrected: dict[str, Any] | None,
    consensus: dict[str, Any],
) -> dict[str, Any]:
    if wanted is ReviewDecision.ACCEPT:
        return consensus
    if corrected is None:
        raise InvalidAnswer("a correction needs 'answer'")
    return check_answer(uow, task_id, corrected)


def _rescore(uow: UnitOfWork, job_id: str, task_id: str, final: dict[str, Any]) -> None:
    job = uow.jobs.get(job_id)
    assert job is not None
    kind = JobKind(job.kind)
    for answer in uow.quality.answers_of_task(task_id):
        uow.quality.put_score(score_row(answer, kind, final, ScoreReference.REVIEW))


def submit_review_and_check_done(
    uow: UnitOfWork,
    reviewer_id: str,
    lease_id: str,
    decision: str,
    corrected: dict[str, Any] | None,
    *,
    client_review_id: str | None = None,
    time_spent_seconds: float | None = None,
) -> int:
    """The review API's submit: the review, and the end of review once it was the last one
    (in the same transaction)."""
    review_id = submit_review(
        uow, reviewer_id, lease_id, decision, corrected,
        client_review_id=client_review_id, time_spent_seconds=time_spent_seconds,
    )  # fmt: skip
    lease = uow.work.lease(lease_id)
    task = uow.work.task(lease.task_id) if lease is not None else None
    if task is not None:
        after_review(uow, task.job_id)
    return review_id


def finish_review(
    uow: UnitOfWork, job_id: str, policy: TierPolicy | None = None
) -> JobStage | None:
    """No result of the job waits for review any more: update tiers with the reviewed scores
    and move on to assembling (move_job_to sends the assemble step)."""
    job = uow.jobs.get(job_id, for_update=True)
    if job is None:
        return None
    if job.stage != JobStage.REVIEWING.value:
        return JobStage(job.stage)
    if uow.quality.count_in_review(job_id):
        return JobStage.REVIEWING
    workers = sorted({a.worker_id for a in uow.quality.answers(job_id)})
    update_tiers(uow, workers, policy or TierPolicy())
    move_job_to(uow, job, JobStage.ASSEMBLING, "every reviewed result is final")
    return JobStage.ASSEMBLING
