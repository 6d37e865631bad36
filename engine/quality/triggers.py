"""When a job is ready for the score stage (read side, used by entrypoints)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from engine.jobs.repository import JobRepository
from engine.quality.repository import QualityRepository
from schemas.jobs import JobSpec


def jobs_due_for_scoring(session: Session) -> list[str]:
    """Jobs in labeling whose deadline passed, or whose every slot is answered: the check after
    each answer can miss a job (two last answers committing at once each see the other's slot
    open; the broker was down), and this sweep sends it then."""
    now = datetime.now(UTC)
    quality = QualityRepository(session)
    due = []
    for job in JobRepository(session).in_stage("labeling"):
        deadline = JobSpec.model_validate(job.spec).deadline
        if (deadline is not None and deadline <= now) or quality.labeling_and_all_answered(job.id):
            due.append(job.id)
    return due


def job_ready_after_answer(session: Session, job_id: str) -> bool:
    """An answer completed the job (checked after every answer, so one cheap statement; the
    beat sweep ``jobs_due_for_scoring`` sends deadlines and any job this check missed)."""
    return QualityRepository(session).labeling_and_all_answered(job_id)


def review_done(session: Session, job_id: str) -> bool:
    return QualityRepository(session).count_in_review(job_id) == 0
