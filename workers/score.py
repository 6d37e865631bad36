"""The ``score`` queue: consensus, scores and skills once a job's answers are in; the end of
QA review; the deadline sweep."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from engine.bootstrap import get_context
from engine.domain.job_stage import JobStage
from engine.quality.service import QualitySettings, finish_review, score_job
from engine.quality.triggers import jobs_due_for_scoring
from workers.celery_app import TRANSIENT_RETRY, app
from workers.dispatch import enqueue_assemble, enqueue_publish_review


@app.task(name="kazi.score.score_job", autoretry_for=(OperationalError,), **TRANSIENT_RETRY)
def score_job_task(job_id: str) -> str | None:
    ctx = get_context()
    stage = score_job(ctx.sessions, job_id, QualitySettings.from_settings(ctx.settings))
    if stage is JobStage.ASSEMBLING:
        enqueue_assemble(job_id)
    elif stage is JobStage.REVIEWING:
        enqueue_publish_review(job_id)
    return stage.value if stage else None


@app.task(name="kazi.score.finish_review", autoretry_for=(OperationalError,), **TRANSIENT_RETRY)
def finish_review_task(job_id: str) -> str | None:
    ctx = get_context()
    policy = QualitySettings.from_settings(ctx.settings).policy
    stage = finish_review(ctx.sessions, job_id, policy)
    if stage is JobStage.ASSEMBLING:
        enqueue_assemble(job_id)
    return stage.value if stage else None


@app.task(name="kazi.score.deadlines")
def deadlines_task() -> list[str]:
    """Jobs whose deadline passed are scored with the answers they have; fully answered jobs
    whose after-answer trigger was missed are scored too."""
    ctx = get_context()
    with ctx.sessions() as session:
        due = jobs_due_for_scoring(session)
    for job_id in due:
        score_job_task.delay(job_id)
    return due
