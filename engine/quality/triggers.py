"""When a job is ready for the score stage (read side, used by entrypoints)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from engine.jobs.repository import JobRepository
from engine.quality.repository import QualityRepository
from engine.quality.service import ready_to_score
from schemas.jobs import JobSpec


def jobs_past_deadline(session: Session) -> list[str]:
    now = datetime.now(UTC)
    due = []
    for job in JobRepository(session).in_stage("labeling"):
        deadline = JobSpec.model_validate(job.spec).deadline
        if deadline is not None and deadline <= now:
            due.append(job.id)
    return due


def job_ready_after_answer(session: Session, job_id: str) -> bool:
    return ready_to_score(session, job_id)


def review_done(session: Session, job_id: str) -> bool:
    return QualityRepository(session).count_in_review(job_id) == 0
