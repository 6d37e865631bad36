"""When a job is ready for the next quality step, and the events that send it there.

Each check runs in the unit of work of the change that may have completed the job, and writes
its event to the outbox in that same transaction (engine/pipeline/outbox.py), so the step is
sent exactly when the change commits. The beat sweep covers what these checks can miss.
"""

from __future__ import annotations

from datetime import UTC, datetime

from engine.domain.job_stage import JobStage
from engine.pipeline.outbox import emit
from engine.pipeline.routing import PipelineEvent
from engine.unit_of_work import UnitOfWork
from schemas.jobs import JobSpec


def job_ready_after_answer(uow: UnitOfWork, job_id: str) -> bool:
    """An answer completed the job: it is in labeling and every answer slot is answered (one
    cheap statement, as it runs after every answer)."""
    return uow.quality.labeling_and_all_answered(job_id)


def after_answer(uow: UnitOfWork, job_id: str) -> None:
    """Call in the transaction that filed an answer: the job's last answer sends it to the
    score stage. Two last answers committing at once each see the other's slot open; the beat
    sweep (``send_due_jobs``) sends that job within a minute."""
    if job_ready_after_answer(uow, job_id):
        emit(uow, PipelineEvent.ANSWERS_COMPLETE, job_id)


def review_done(uow: UnitOfWork, job_id: str) -> bool:
    return uow.quality.count_in_review(job_id) == 0


def after_review(uow: UnitOfWork, job_id: str) -> None:
    """Call in the transaction that filed a review: the job's last review ends its review.
    The job's row is locked first, so of two last reviews committing at once the second
    waits for the first and sees it."""
    job = uow.jobs.get(job_id, for_update=True)
    if job is not None and job.stage == JobStage.REVIEWING.value and review_done(uow, job_id):
        emit(uow, PipelineEvent.REVIEWS_COMPLETE, job_id)


def jobs_due_for_scoring(uow: UnitOfWork) -> list[str]:
    """Jobs in labeling whose deadline passed, or whose every slot is answered: the check after
    each answer can miss a job (two last answers committing at once), and this sweep finds it."""
    now = datetime.now(UTC)
    due = []
    for job in uow.jobs.in_stage(JobStage.LABELING.value):
        deadline = JobSpec.model_validate(job.spec).deadline
        if (deadline is not None and deadline <= now) or job_ready_after_answer(uow, job.id):
            due.append(job.id)
    return due


def jobs_done_reviewing(uow: UnitOfWork) -> list[str]:
    """Jobs in review with no result left in review (their end-of-review event went missing)."""
    return [j.id for j in uow.jobs.in_stage(JobStage.REVIEWING.value) if review_done(uow, j.id)]


def send_due_jobs(uow: UnitOfWork) -> list[str]:
    """The beat's sweep: an event for each job due for scoring or done reviewing, unless one
    is already waiting in the outbox. Returns the jobs sent."""
    events = [(PipelineEvent.ANSWERS_COMPLETE, j) for j in jobs_due_for_scoring(uow)]
    events += [(PipelineEvent.REVIEWS_COMPLETE, j) for j in jobs_done_reviewing(uow)]
    waiting = uow.outbox.jobs_with_pending([job_id for _, job_id in events])
    sent = []
    for event, job_id in events:
        if job_id not in waiting:
            emit(uow, event, job_id)
            sent.append(job_id)
    return sent
